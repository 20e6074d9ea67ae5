#!/usr/bin/env python3
"""Turns the JMH JSON of CorsDecisionBenchmark into a Markdown table: Crossgate against Spring.

Benchmark methods are named <case>_crossgate and <case>_spring; each case is one row with the average
time (ns/op, with JMH's 99.9% error), the ratio Spring/Crossgate, and the allocation per operation
(gc.alloc.rate.norm, B/op, from -prof gc). Prints the table and writes it, with the date, the machine
and the command, to --md. Called by bench/cors-decision.sh; can be rerun on a saved JSON.
"""
import argparse
import json
import math
import sys

CASES = [
    ("actualOneOrigin", "1. actual, 1 allowed origin"),
    ("actualThousandOrigins", "2. actual, 1000 allowed origins (the last one requested)"),
    ("actualThousandOriginsFreshString", "3. as 2, Origin string decoded afresh each time"),
    ("preflightAllowed", "4. preflight allowed (PUT, 3 request headers)"),
    ("preflightRefused", "5. preflight refused (origin not allowed)"),
    ("preflightHugeRequestHeaders", "6. preflight, 100 KB Access-Control-Request-Headers"),
]
SIDES = ("crossgate", "spring")
ALLOC_KEYS = ("gc.alloc.rate.norm", "\u00b7gc.alloc.rate.norm")  # JMH 1.37 and older spellings


def load(path):
    with open(path, encoding="utf-8") as f:
        runs = json.load(f)
    results = {}
    meta = {}
    for run in runs:
        method = run["benchmark"].rsplit(".", 1)[-1]
        case, _, side = method.rpartition("_")
        if side not in SIDES:
            continue
        pm = run["primaryMetric"]
        alloc = None
        for key in ALLOC_KEYS:
            if key in run.get("secondaryMetrics", {}):
                alloc = number(run["secondaryMetrics"][key]["score"])
                break
        results[(case, side)] = {
            "score": number(pm["score"]),
            "error": number(pm.get("scoreError")),
            "unit": pm["scoreUnit"],
            "alloc": alloc,
        }
        meta = {
            "jmh": run.get("jmhVersion", "?"),
            "vm": "%s %s" % (run.get("vmName", "?"), run.get("vmVersion", "?")),
            "jvmArgs": " ".join(run.get("jvmArgs", [])),
            "forks": run.get("forks"),
            "warmup": "%s x %s" % (run.get("warmupIterations"), run.get("warmupTime")),
            "measurement": "%s x %s" % (run.get("measurementIterations"), run.get("measurementTime")),
        }
    return results, meta


def number(v):
    """JMH writes "NaN" (a string) where it has no figure, such as the error of a single iteration."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_ns(r):
    if r is None:
        return "n/a"
    s = r["score"]
    digits = 1 if s < 1000 else 0
    text = f"{s:,.{digits}f}"
    e = r["error"]
    if e is not None:
        text += f" ± {e:,.{digits}f}"
    if r["unit"] != "ns/op":
        text += " " + r["unit"]
    return text


def fmt_bytes(r):
    if r is None or r["alloc"] is None:
        return "n/a"
    return f"{r['alloc']:,.0f}"


def build(results):
    order = [c for c, _ in CASES] + sorted({c for c, _ in results} - {c for c, _ in CASES})
    labels = dict(CASES)
    lines = [
        "| Case | Crossgate ns/op | Spring ns/op | Spring/Crossgate | Crossgate B/op | Spring B/op |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    checks = []
    for case in order:
        cg = results.get((case, "crossgate"))
        sp = results.get((case, "spring"))
        if cg is None and sp is None:
            continue
        ratio = "n/a"
        if cg and sp and cg["score"] > 0:
            ratio = f"{sp['score'] / cg['score']:,.1f}x"
        label = labels.get(case, case)
        lines.append(f"| {label} | {fmt_ns(cg)} | {fmt_ns(sp)} | {ratio} | {fmt_bytes(cg)} | {fmt_bytes(sp)} |")
        if cg and sp and cg["score"] >= sp["score"]:
            checks.append(f"- MISS: case {label}: Crossgate is not faster than Spring")
        if case in ("actualOneOrigin", "actualThousandOrigins") and cg:
            if cg["score"] > 100:
                checks.append(f"- MISS: case {label}: Crossgate takes more than 100 ns/op")
            if cg["alloc"] is not None and cg["alloc"] >= 0.5:
                checks.append(f"- MISS: case {label}: Crossgate allocates ({cg['alloc']:.0f} B/op)")
    if not checks:
        checks.append("- all met: cases 1 and 2 at most 100 ns/op and 0 B/op for Crossgate; "
                      "Crossgate faster than Spring in every case measured")
    return "\n".join(lines), checks


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md")
    ap.add_argument("--date", default="")
    ap.add_argument("--nproc", default="")
    ap.add_argument("--cpu", default="")
    ap.add_argument("--os", default="")
    ap.add_argument("--java-version", default="")
    ap.add_argument("--command", default="")
    a = ap.parse_args()

    results, meta = load(a.json)
    if not results:
        sys.exit(f"no CorsDecisionBenchmark results in {a.json}")
    table, checks = build(results)
    print()
    print(table)
    print()
    print("Targets (cases 1-2: <= 100 ns/op and 0 B/op; Crossgate faster than Spring in every case):")
    print("\n".join(checks))

    if a.md:
        java = "\n".join("  " + line for line in a.java_version.strip().splitlines())
        doc = f"""# CORS decision benchmark: Crossgate against Spring

Crossgate's `CorsPolicy` against Spring Framework's `CorsConfiguration` (spring-web, the checks its
`DefaultCorsProcessor` makes), configured alike: credentials on, methods GET, POST, PUT, DELETE, request
headers Content-Type, Authorization, X-Requested-With, exposed X-Request-Id, max age 600 s. Source:
`bench/jmh/src/main/java/dev/crossgate/bench/CorsDecisionBenchmark.java`. Average time per decision
(JMH's 99.9% confidence interval after the ±) and bytes allocated per decision (`gc.alloc.rate.norm`).
Case 6: Crossgate refuses on the length alone (default limit 4096 bytes); Spring splits and checks every
name, none of them allowed, and refuses too.

{table}

Targets (cases 1-2: at most 100 ns/op and 0 B/op for Crossgate; Crossgate faster than Spring in every case):

{chr(10).join(checks)}

## Run

- date: {a.date}
- command (from the repository root, run by `bench/cors-decision.sh`):

  ```
  {a.command}
  ```

- JMH {meta.get('jmh')}, {meta.get('forks')} fork, warmup {meta.get('warmup')}, measurement {meta.get('measurement')}
- JVM: {meta.get('vm')}{(', args: ' + meta['jvmArgs']) if meta.get('jvmArgs') else ''}
- machine: {a.nproc} CPUs (nproc), {a.cpu}, {a.os}
- `java -version`:

  ```
{java}
  ```
"""
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(doc)
        print(f"\nwrote {a.md}")


if __name__ == "__main__":
    main()
