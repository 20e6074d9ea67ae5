// Opens idle Socket.IO clients (official socket.io-client, WebSocket only) in steps, for the memory
// benchmark: after each step it prints "STEP <open>" and waits for the file <dir>/go-<open> before the next.
//   node clients.mjs http://127.0.0.1:PORT TOTAL STEP DIR
import { existsSync } from "node:fs";
import { io } from "socket.io-client";

const [url, totalArg, stepArg, dir] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
  console.error("only http://127.0.0.1:PORT");
  process.exit(2);
}
const total = Number(totalArg);
const step = Number(stepArg);
const sockets = [];
let failed = 0;
setTimeout(() => { console.log("TIMEOUT"); process.exit(1); }, 20 * 60 * 1000).unref(); // bounded

function openOne() {
  return new Promise((resolve) => {
    const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20000 });
    s.once("connect", () => resolve());
    s.once("connect_error", () => { failed++; resolve(); });
    sockets.push(s);
  });
}

async function waitFor(file) {
  for (let i = 0; i < 6000 && !existsSync(file); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (let open = 0; open < total; ) {
  const target = Math.min(total, open + step);
  while (open < target) {
    const batch = [];
    for (let i = 0; i < 200 && open < target; i++, open++) {
      batch.push(openOne());
    }
    await Promise.all(batch);
  }
  console.log(`STEP ${open} failed=${failed}`);
  await waitFor(`${dir}/go-${open}`);
}
console.log("DONE");
await waitFor(`${dir}/stop`);
sockets.forEach((s) => s.close());
process.exit(0);
