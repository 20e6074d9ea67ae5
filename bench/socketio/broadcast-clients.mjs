// The client harness of bench/socketio-broadcast.sh (official socket.io-client, WebSocket only), the same for
// both servers. Opens CLIENTS receivers on the main namespace "/" and one driver on "/driver", then runs a
// closed loop: the driver keeps WINDOW bursts in flight, a burst being the event "burst" {n: BURST, size: SIZE}
// after which the server broadcasts BURST events "m" of SIZE characters to every receiver; the next burst is
// asked for only when a whole burst has reached every receiver, so at most WINDOW x BURST messages per
// receiver are ever on their way (nothing queues without bound, in either server). After WARMUP seconds it
// measures for DURATION seconds: messages received by all receivers, the CPU ticks (utime + stime of
// /proc/PID/stat) of the server SERVER_PID and of this process, and the busy ticks of the CPUs SUT_CPU and
// LOAD_CPU in all (/proc/stat: what other processes took from either side shows there). Then it stops asking, waits until every
// burst asked for has arrived everywhere and checks that every receiver got every message (none lost).
//   node broadcast-clients.mjs http://127.0.0.1:PORT CLIENTS SIZE BURST WINDOW WARMUP DURATION SERVER_PID SUT_CPU LOAD_CPU [EXTRA_PID]
// Prints "CONNECTED ...", "WARM ...", then one line "RESULT key=value ..."; exits 1 on any failure.
// Several nodes (bench/socketio-cluster.sh): URL a comma-separated list of nodes' URLs and SERVER_PID the list of
// their PIDs in the same order; receiver k connects to node k mod n (so the receivers are spread evenly), the driver
// to the first node, whose broadcasts reach the other nodes' receivers through the cluster adapter. server_ticks is
// then the sum over the nodes and server_ticks_each the list; EXTRA_PID (0: none) is one more process to measure
// (Redis), reported as extra_ticks.
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";

const [urlList, ...args] = process.argv.slice(2);
const urls = (urlList ?? "").split(",");
if (!urls.every((u) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u))) {
  console.error("only http://127.0.0.1:PORT (a comma-separated list for several nodes)");
  process.exit(2);
}
const serverPids = (args[6] ?? "").split(",").map(Number);
const [clients, size, burst, window, warmup, duration, , sutCpu, loadCpu, extraPid = 0] = args.map(Number);
if ((args.length !== 9 && args.length !== 10) || serverPids.length !== urls.length || !serverPids.every((n) => Number.isInteger(n) && n > 0)
  || ![clients, size, burst, window, warmup, duration, sutCpu, loadCpu, extraPid].every((n) => Number.isInteger(n) && n >= 0)
  || clients < 1 || burst < 1 || window < 1 || duration < 1) {
  console.error("usage: node broadcast-clients.mjs http://127.0.0.1:PORT[,...] CLIENTS SIZE BURST WINDOW WARMUP DURATION SERVER_PID[,...] SUT_CPU LOAD_CPU [EXTRA_PID]");
  process.exit(2);
}
const url = urls[0]; // the driver's node
function fail(why) {
  console.log("FAILED " + why);
  process.exit(1);
}
setTimeout(() => fail("the harness ran for 10 minutes"), 10 * 60 * 1000).unref(); // bounded

/** utime + stime of a process, in clock ticks (all its threads). */
function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return Number(f[11]) + Number(f[12]); // fields 14 and 15
}

/** Busy ticks (all but idle and iowait) of one CPU since boot, from /proc/stat. */
function cpuBusy(cpu) {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) fail(`no cpu${cpu} in /proc/stat`);
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  return v.reduce((a, b) => a + b, 0) - v[3] - v[4];
}

const opts = { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20000 };
const counts = new Array(clients).fill(0);
const nodeOf = (k) => k % urls.length; // receiver k's node
const reached = new Map(); // burst number -> receivers that have all of it
const sentAt = []; // burst number -> when it was asked for (ms)
const latencies = []; // ms from asking for a burst to its last delivery, bursts asked for in the window
let received = 0;
let asked = 0;
let completed = 0;
let running = false;
let measuring = false;
let stopping = false;
let lastProgress = Date.now();
let driver;

function openOne(u, onM) {
  return new Promise((resolve) => {
    const s = io(u, opts);
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => fail(`connect_error ${u}: ${e.message}`));
    s.on("disconnect", (reason) => { if (!stopping) fail(`a socket of ${u} disconnected: ${reason}`); });
    if (onM) s.on("m", onM);
  });
}

function ask() {
  sentAt[asked] = performance.now();
  asked++;
  driver.emit("burst", { n: burst, size });
}

function burstDone(b) {
  completed++;
  lastProgress = Date.now();
  if (measuring) latencies.push(performance.now() - sentAt[b]);
  if (running) ask();
}

const sockets = [];
for (let open = 0; open < clients; ) {
  const batch = [];
  for (let i = 0; i < 200 && open < clients; i++, open++) {
    const k = open;
    batch.push(openOne(urls[nodeOf(k)], (payload) => {
      if (payload.length !== size) fail(`a message of ${payload.length} characters, expected ${size}`);
      received++;
      const c = ++counts[k];
      if (c % burst === 0) {
        const b = c / burst - 1;
        const r = (reached.get(b) || 0) + 1;
        if (r === clients) {
          reached.delete(b);
          burstDone(b);
        } else {
          reached.set(b, r);
        }
      }
    }));
  }
  sockets.push(...(await Promise.all(batch)));
}
driver = await openOne(url + "/driver", null);
console.log(`CONNECTED clients=${clients} nodes=${urls.length}`);

/** Messages received so far by the receivers of each node. */
function perNode() {
  const sums = new Array(urls.length).fill(0);
  counts.forEach((c, k) => { sums[nodeOf(k)] += c; });
  return sums;
}

const stall = setInterval(() => {
  if (asked > completed && Date.now() - lastProgress > 30000) fail(`no burst completed for 30 s (asked ${asked}, completed ${completed})`);
}, 1000);
running = true;
lastProgress = Date.now();
for (let i = 0; i < window; i++) ask();

await new Promise((r) => setTimeout(r, warmup * 1000));
const t0 = performance.now();
const r0 = received;
const s0 = serverPids.map(ticks);
const x0 = extraPid ? ticks(extraPid) : 0;
const perNode0 = perNode();
const c0 = ticks(process.pid);
const u0 = cpuBusy(sutCpu);
const l0 = cpuBusy(loadCpu);
measuring = true;
console.log(`WARM received=${r0} bursts=${completed}`);
await new Promise((r) => setTimeout(r, duration * 1000));
const t1 = performance.now();
const r1 = received;
const s1 = serverPids.map(ticks);
const x1 = extraPid ? ticks(extraPid) : 0;
const perNode1 = perNode();
const c1 = ticks(process.pid);
const u1 = cpuBusy(sutCpu);
const l1 = cpuBusy(loadCpu);
measuring = false;
running = false;

for (let i = 0; i < 600 && completed < asked; i++) await new Promise((r) => setTimeout(r, 100)); // bounded: 60 s
if (completed < asked) fail(`${asked - completed} bursts still on their way 60 s after the end`);
const expected = asked * burst;
const short = counts.filter((c) => c !== expected).length;
if (short > 0) fail(`${short} receivers did not get exactly ${expected} messages`);
clearInterval(stall);
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : "nan");
const secs = (t1 - t0) / 1000;
console.log(`RESULT clients=${clients} size=${size} burst=${burst} window=${window} seconds=${secs.toFixed(3)} delivered=${r1 - r0} `
  + `msgs_per_s=${((r1 - r0) / secs).toFixed(0)} server_ticks=${s1.reduce((a, b) => a + b, 0) - s0.reduce((a, b) => a + b, 0)} `
  + `server_ticks_each=${s1.map((t, i) => t - s0[i]).join(",")} delivered_each=${perNode1.map((d, i) => d - perNode0[i]).join(",")} `
  + `extra_ticks=${x1 - x0} client_ticks=${c1 - c0} sut_cpu_ticks=${u1 - u0} load_cpu_ticks=${l1 - l0} bursts=${asked} `
  + `messages_per_receiver=${expected} lost=0 burst_ms_p50=${pct(0.5)} burst_ms_p99=${pct(0.99)}`);
stopping = true;
driver.close();
sockets.forEach((s) => s.close());
process.exit(0);
