"""Kiln side by side with the docs' polling loop and a blocking worker pool, on the same work.

Run through `scripts/bench`, which prepares the Python environment. One simulator per system
(`kiln simulate`, release build), the same planned workload for all: each document carries its
queue wait and generation time as simulator directives, drawn once from the standard workload
(queue wait uniform 0-10 s, generation log-normal, median 180 s, sigma 0.6, provider time).

Systems:
  kiln          `kiln work` on a SQLite file, every duration of its schedule scaled like the
                provider's time; the database first holds the history of one earlier batch of
                the same workload (`--history`), as a running installation would, so the first
                poll comes from learned run times; that earlier batch is reported as kiln_cold.
  docs_loop     OpenAI's background-mode example with the official SDK: AsyncOpenAI, one task
                per run, create with background=True, retrieve every 2 s until final.
  blocking_pool W threads, each a non-background create that holds the connection for the
                whole generation (the official SDK's sync client), as a queue worker would.

Every time is reported in provider seconds (real seconds x scale). CPU and peak RSS come from
the kernel's accounting of each system's own process (wait4), the simulator's CPU from /proc.
"""
import argparse
import base64
import asyncio
import json
import math
import os
import platform
import queue
import random
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"completed", "failed", "incomplete", "cancelled", "timed_out"}
MODEL = "gpt-5-mini"
INSTRUCTIONS = "Summarize the document the user provides in a short paragraph."


# ---------------------------------------------------------------- the workload

def plan_workload(runs, seed, queue_max, median, sigma, queue_min=0.0, prefix="run"):
    rng = random.Random(seed)
    plan = []
    for i in range(runs):
        queue_wait = rng.uniform(queue_min, queue_max)
        generation = median * math.exp(sigma * rng.gauss(0, 1))
        text = (f"Document {i}: the quarterly report of a mid-sized company. Revenue grew 12 % while costs "
                f"fell; the board approved a new plant. [sim:queue={queue_wait:.3f}][sim:generation={generation:.3f}]")
        plan.append({"id": f"{prefix}-{seed}-{i:06d}", "queue_s": queue_wait, "generation_s": generation, "text": text})
    return plan


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ---------------------------------------------------------------- processes

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.load(answer)


def proc_cpu(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def machine_ticks():
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


class Simulator:
    def __init__(self, kiln, scale, log, webhooks=None, options=()):
        """webhooks: {"url", "secret", "drop_rate"} to deliver signed webhooks to Kiln's receiver;
        options: more `kiln simulate` options (e.g. ["--flex-busy-share", "0.3"])."""
        self.port = free_port()
        command = [kiln, "simulate", "--port", str(self.port), "--time-scale", str(scale), "--seed", "7", *options]
        env = dict(os.environ)
        if webhooks:
            command += ["--webhook-url", webhooks["url"], "--webhook-drop-rate", str(webhooks.get("drop_rate", 0))]
            env["OPENAI_WEBHOOK_SECRET"] = webhooks["secret"]
        self.process = subprocess.Popen(command, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 30
        while True:
            try:
                get_json(self.base + "/_sim/stats")
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("the simulator did not start")
                time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait()


def wait_with_usage(process):
    """Waits for a child; its exit code, CPU seconds and peak RSS (MB) from the kernel."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Meter:
    """Machine and simulator CPU over one system's run."""

    def __init__(self, simulator):
        self.simulator = simulator
        self.started = time.time()
        self.sim_cpu = proc_cpu(simulator.process.pid)
        self.busy, self.total = machine_ticks()

    def stop(self):
        busy, total = machine_ticks()
        real = time.time() - self.started
        return {"real_s": real, "simulator_cpu_s": proc_cpu(self.simulator.process.pid) - self.sim_cpu,
                "machine_busy_share": (busy - self.busy) / max(total - self.total, 1)}


# ---------------------------------------------------------------- measuring a system

def measure(name, plan, stored, started, scale, simulator, usage, extra=None):
    """stored: run id -> (real unix time the result was stored, response id or None)."""
    timeline = {r["id"]: r for r in get_json(simulator.base + "/_sim/responses")["data"]}
    stats = get_json(simulator.base + "/_sim/stats")
    lags, rel, longest_seen = [], [], 0.0
    missing = 0
    for run in plan:
        at, response_id = stored.get(run["id"], (None, None))
        response = timeline.get(response_id) if response_id else None
        if response is None:
            candidates = [r for r in timeline.values() if r["run_id"] == run["id"]]
            response = candidates[-1] if candidates else None
        if at is None or response is None or response["finished_at"] is None:
            missing += 1
            continue
        lag = max(0.0, at - response["finished_at"]) * scale
        generation = (response["ends_at"] - response["starts_at"]) * scale
        lags.append(lag)
        rel.append(lag / generation if generation > 0 else 0)
    calls_after_create = stats["retrieves"] + stats["cancels"] + stats["deletes"] + (stats["creates"] - len(plan))
    finished = [at for at, _ in stored.values() if at]
    longest = max(run["queue_s"] + run["generation_s"] for run in plan)
    makespan = (max(finished) - started) * scale if finished else None
    result = {
        "runs": len(plan) - missing, "makespan_s": round(makespan, 1) if makespan else None,
        "longest_s": round(longest, 1), "makespan_over_longest": round(makespan / longest, 3) if makespan else None,
        "calls_per_run": round(calls_after_create / len(plan), 2),
        "lag_p50_s": round(percentile(lags, 50), 2) if lags else None,
        "lag_p99_s": round(percentile(lags, 99), 2) if lags else None,
        "lag_p99_rel": round(percentile(rel, 99), 4) if rel else None,
        "lag_p99_real_s": round(percentile(lags, 99) / scale, 3) if lags else None,
        "retrieves_per_run": round(stats["retrieves"] / len(plan), 2),
        "cpu_s": round(usage["cpu_s"], 2), "peak_rss_mb": round(usage["rss_mb"], 1),
        "cpu_share": round(usage["cpu_s"] / usage["real_s"], 3),
        "simulator_cpu_share": round(usage["simulator_cpu_s"] / usage["real_s"], 3),
        "machine_busy_share": round(usage["machine_busy_share"], 3),
        "real_s": round(usage["real_s"], 1), "scale": scale,
    }
    if extra:
        result.update(extra)
    print(f"  {name}: {result['runs']} runs, makespan {result['makespan_s']} s, {result['calls_per_run']} calls/run, "
          f"lag p50 {result['lag_p50_s']} s p99 {result['lag_p99_s']} s (rel {result['lag_p99_rel']}), "
          f"cpu {result['cpu_s']} s ({result['cpu_share']:.0%} of a core), simulator {result['simulator_cpu_share']:.0%}, "
          f"rss {result['peak_rss_mb']} MB", flush=True)
    return result


# ---------------------------------------------------------------- Kiln

def kiln_environment(scale, database, base, extra=None):
    """Kiln's schedule with every duration scaled like the provider's time (leases are not part
    of the schedule: they only matter after a crash, and stay at their defaults)."""
    env = dict(os.environ, KILN_DATABASE_URL=str(database), OPENAI_BASE_URL=base + "/v1", OPENAI_API_KEY="sk-bench",
               KILN_LOG_LEVEL="warning")
    for key, seconds in {"POLLER_INITIAL_DELAY_SECONDS": 5, "POLLER_MIN_INTERVAL_SECONDS": 2,
                         "POLLER_MAX_INTERVAL_SECONDS": 120, "POLLER_SAFETY_NET_MAX_SECONDS": 540, "SUBMITTER_RETRY_BASE_SECONDS": 2,
                         "SUBMITTER_RETRY_MAX_SECONDS": 300, "WORKER_MAX_IDLE_SECONDS": 30}.items():
        env["KILN_" + key] = f"{seconds / scale:.6g}"
    env["KILN_POLICY_DEADLINE_SECONDS"] = str(max(1, round(4 * 3600 / scale)))  # an integer key
    env.update(extra or {})
    return env


def parse_timestamp(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def insert_runs(database, plan, policy="{}"):
    with sqlite3.connect(database, timeout=30) as db:
        db.executemany("INSERT INTO ai_runs (id, tenant_id, feature, input, policy) VALUES (?, 'bench', 'document_summary', ?, ?)",
                       [(run["id"], json.dumps({"text": run["text"], "length": "short"}), policy) for run in plan])


def run_kiln_batch(args, name, plan, database, scale, out, env_extra=None, policy="{}", webhook_drop_rate=None):
    """webhook_drop_rate: None for polling alone; else webhooks on, this share of them lost."""
    webhooks, listen = None, []
    if webhook_drop_rate is not None:
        port = free_port()
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        webhooks = {"url": f"http://127.0.0.1:{port}/webhooks/openai", "secret": secret, "drop_rate": webhook_drop_rate}
        env_extra = dict(env_extra or {}, OPENAI_WEBHOOK_SECRET=secret)
        listen = ["--listen", f"127.0.0.1:{port}"]
    simulator = Simulator(args.kiln, scale, out / f"simulator-{name}.log", webhooks)
    try:
        env = kiln_environment(scale, database, simulator.base, env_extra)
        migrate = subprocess.run([args.kiln, "migrate"], env=env, capture_output=True, text=True)
        if migrate.returncode != 0:
            sys.exit(f"kiln migrate failed: {migrate.stderr.strip()}")
        insert_runs(database, plan, policy)
        ids = [run["id"] for run in plan]
        meter = Meter(simulator)
        started = time.time()
        worker = subprocess.Popen([args.kiln, "work"] + listen, env=env, stdout=open(out / f"{name}.log", "wb"),
                                  stderr=subprocess.STDOUT)
        reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        marks = ",".join("?" * len(ids))
        deadline = started + args.timeout
        while time.time() < deadline:
            (left,) = reader.execute(f"SELECT count(*) FROM ai_runs WHERE id IN ({marks}) AND status NOT IN "
                                     "('completed','failed','incomplete','cancelled','timed_out')", ids).fetchone()
            if left == 0:
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        code, cpu, rss = wait_with_usage(worker)
        usage = meter.stop() | {"cpu_s": cpu, "rss_mb": rss}
        rows = reader.execute(f"SELECT id, status, response_id, finalized_at, submitted_at FROM ai_runs WHERE id IN ({marks})", ids).fetchall()
        reader.close()
        stored = {i: (parse_timestamp(f) if f else None, r) for i, s, r, f, _ in rows}
        submitted = [parse_timestamp(s) for *_, s in rows if s]
        statuses = {}
        for _, status, *_ in rows:
            statuses[status] = statuses.get(status, 0) + 1
        stats = get_json(simulator.base + "/_sim/stats")
        real = max(f for f, _ in stored.values() if f) - started if any(f for f, _ in stored.values()) else 1
        extra = {"statuses": statuses, "exit_code": code,
                 "submits_per_s": round(len(submitted) / max(max(submitted) - started, 1e-3), 1) if submitted else None,
                 "polls_per_s": round(stats["retrieves"] / real, 1)}
        return measure(name, plan, stored, started, scale, simulator, usage, extra)
    finally:
        simulator.stop()


# ---------------------------------------------------------------- the docs' loop and the blocking pool (own processes)

async def docs_loop(plan, base, interval, deadline_s):
    from openai import AsyncOpenAI
    client = AsyncOpenAI(api_key="sk-bench", base_url=base + "/v1")
    results, gaps = {}, []
    stop_at = time.time() + deadline_s

    async def one(run):
        response = await client.responses.create(
            model=MODEL, instructions=INSTRUCTIONS, input=run["text"], background=True, metadata={"kiln_run_id": run["id"]})
        last = time.time()
        while response.status in ("queued", "in_progress") and time.time() < stop_at:
            await asyncio.sleep(interval)
            response = await client.responses.retrieve(response.id)
            now = time.time()
            gaps.append(now - last)
            last = now
        if response.status not in ("queued", "in_progress"):
            results[run["id"]] = (time.time(), response.id, response.status, response.output_text)

    await asyncio.gather(*(one(run) for run in plan))
    await client.close()
    return results, gaps


def blocking_pool(plan, base, workers):
    from openai import OpenAI
    client = OpenAI(api_key="sk-bench", base_url=base + "/v1", timeout=3600)
    todo = queue.Queue()
    for run in plan:
        todo.put(run)
    results = {}

    def work():
        while True:
            try:
                run = todo.get_nowait()
            except queue.Empty:
                return
            response = client.responses.create(model=MODEL, instructions=INSTRUCTIONS, input=run["text"],
                                               metadata={"kiln_run_id": run["id"]})
            results[run["id"]] = (time.time(), response.id, response.status, response.output_text)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, []


def child_main(argv):
    """`bench.py docs-loop|blocking-pool PLAN BASE PARAM DEADLINE OUT`: one system in its own process."""
    mode, plan_file, base, param, deadline, out = argv
    plan = json.loads(Path(plan_file).read_text())
    if mode == "docs-loop":
        results, gaps = asyncio.run(docs_loop(plan, base, float(param), float(deadline)))
    else:
        results, gaps = blocking_pool(plan, base, int(param))
    Path(out).write_text(json.dumps({"results": results, "gaps": gaps}))


def run_child(args, name, mode, plan, scale, param, out):
    simulator = Simulator(args.kiln, scale, out / f"simulator-{name}.log")
    try:
        plan_file, result_file = out / f"{name}-plan.json", out / f"{name}-result.json"
        plan_file.write_text(json.dumps(plan))
        meter = Meter(simulator)
        started = time.time()
        child = subprocess.Popen([sys.executable, __file__, mode, str(plan_file), simulator.base, str(param),
                                  str(args.timeout), str(result_file)], stdout=open(out / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
        code, cpu, rss = wait_with_usage(child)
        usage = meter.stop() | {"cpu_s": cpu, "rss_mb": rss}
        if code != 0:
            sys.exit(f"{name} failed (exit {code}); see {out / (name + '.log')}")
        data = json.loads(result_file.read_text())
        stored = {run_id: (at, response_id) for run_id, (at, response_id, _, _) in data["results"].items()}
        extra = {"exit_code": code}
        if mode == "docs-loop":
            nominal = float(param) * scale
            achieved = statistics.mean(data["gaps"]) * scale if data["gaps"] else None
            extra.update({"interval_nominal_s": nominal, "interval_achieved_s": round(achieved, 3) if achieved else None,
                          "calls_per_s": round(len(data["gaps"]) / usage["real_s"], 1)})
        else:
            extra["workers"] = param
        return measure(name, plan, stored, started, scale, simulator, usage, extra)
    finally:
        simulator.stop()


# ---------------------------------------------------------------- report

def write_report(out, report):
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    w, systems = report["workload"], report["systems"]
    lines = [
        "# Kiln side by side",
        "",
        f"Machine: {report['machine']['cpus']} cores, {report['machine']['cpu']}, {report['machine']['system']}. "
        f"Workload: {w['runs']} runs, queue wait uniform {w['queue_min_s']}–{w['queue_max_s']} s, generation log-normal "
        f"median {w['generation_median_s']} s σ {w['generation_sigma']}, longest run (queue + generation) {w['longest_s']} s, "
        f"mean generation {w['generation_mean_s']} s. Every time in provider seconds (real × scale).",
        "",
        "| system | scale | runs | makespan s | makespan ÷ its longest run | calls/run | lag p50 s | lag p99 s | lag p99 ÷ generation | CPU s | CPU share | simulator CPU share | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in systems.items():
        ratio = f"{s['makespan_over_longest']:.2f}" if s.get("makespan_over_longest") else "–"
        lines.append(f"| {name} | {s['scale']} | {s['runs']} | {s['makespan_s']} | {ratio} | {s['calls_per_run']} | {s['lag_p50_s']} | "
                     f"{s['lag_p99_s']} | {s['lag_p99_rel']} | {s['cpu_s']} | {s['cpu_share']:.1%} | {s['simulator_cpu_share']:.1%} | {s['peak_rss_mb']} |")
    lines.append("")
    if "docs_loop" in systems:
        d = systems["docs_loop"]
        lines.append(f"Docs loop: nominal interval {d['interval_nominal_s']} s, achieved mean {d['interval_achieved_s']} s "
                     f"({d['calls_per_s']} calls/s).")
    if "kiln" in systems:
        k = systems["kiln"]
        lines.append(f"Kiln: {k['submits_per_s']} submissions/s, {k['polls_per_s']} polls/s (real seconds).")
    for name in ("kiln", "kiln_webhooks", "kiln_webhooks_drop20"):
        if name in systems and systems[name].get("retrieves_per_run") is not None:
            s = systems[name]
            lines.append(f"{name}: {s['retrieves_per_run']} retrieves per run, lag p99 {s['lag_p99_real_s']} s real time, "
                         f"statuses {s.get('statuses')}.")
    if "blocking_pool" in systems:
        b = systems["blocking_pool"]
        lines.append(f"Blocking pool: W = {b['workers']}; N ÷ W × mean generation = {w['runs'] / b['workers'] * w['generation_mean_s']:.0f} s.")
    lines += ["", f"Command: `{report['command']}`", ""]
    (out / "bench.md").write_text("\n".join(lines))
    plot(out, report)


def plot(out, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    systems = report["systems"]
    colors = {"kiln": "#c0392b", "kiln_cold": "#e59866", "docs_loop": "#2874a6", "blocking_pool": "#7d3c98"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    most_calls = max(s["calls_per_run"] for s in systems.values())
    for name, s in systems.items():
        if s.get("lag_p99_s") is None:
            continue
        left.scatter(s["calls_per_run"], s["lag_p99_s"], s=160, color=colors.get(name, "gray"), zorder=3)
        left.annotate(f"{name}: {s['calls_per_run']:g} calls/run\np99 lag {s['lag_p99_s']:g} s ({s['lag_p99_rel']:.0%} of its generation)",
                      (s["calls_per_run"], s["lag_p99_s"]), textcoords="offset points", xytext=(10, 4), fontsize=9)
    left.set_xlim(-2, most_calls * 1.6 + 5)
    left.set_ylim(0, max(s["lag_p99_s"] or 0 for s in systems.values()) * 1.3 + 1)
    left.set_xlabel("provider calls per run after the create")
    left.set_ylabel("p99 lag: provider finished → result stored (provider s)")
    left.set_title("What watching costs, and how late results land\n(lower left is better)")
    left.grid(True, alpha=0.3)
    names = list(systems)
    spans = [systems[n]["makespan_s"] or 0 for n in names]
    right.bar(names, spans, color=[colors.get(n, "gray") for n in names])
    for i, name in enumerate(names):
        s = systems[name]
        right.hlines(s["longest_s"], i - 0.4, i + 0.4, colors="black", linestyles="--", label="its longest run" if i == 0 else None)
        right.text(i, spans[i], f"{spans[i]:.0f} s\n({s['makespan_over_longest']:.2f}× longest)", ha="center", va="bottom", fontsize=9)
    right.set_ylim(0, max(spans) * 1.2)
    right.set_ylabel("makespan (provider s)")
    right.set_title(f"Time to finish the batch (the dashed line: no design finishes sooner)")
    right.legend(loc="upper left", fontsize=9)
    fig.suptitle(f"Kiln vs the docs' loop vs a blocking pool: {report['workload']['runs']} long-document summaries "
                 f"(kiln_cold: an earlier batch, before anything was learned)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "bench.png", dpi=110)


def main():
    parser = argparse.ArgumentParser(description="Kiln side by side with the docs' polling loop and a blocking worker pool.")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "out/bench"))
    parser.add_argument("--scale", type=float, default=4.0, help="provider seconds per real second (Kiln and the docs loop)")
    parser.add_argument("--pool-scale", type=float, default=60.0, help="the same for the blocking pool (it makes no status calls)")
    parser.add_argument("--workers", type=int, default=8, help="W, the blocking pool's workers")
    parser.add_argument("--interval", type=float, default=2.0, help="the docs loop's interval (provider s)")
    parser.add_argument("--history", type=int, help="runs of the earlier batch Kiln learns from (default: --runs; 0: none)")
    parser.add_argument("--systems", default="kiln,kiln_webhooks,kiln_webhooks_drop20,docs_loop,blocking_pool")
    parser.add_argument("--queue-min", type=float, default=0.0)
    parser.add_argument("--queue-max", type=float, default=10.0)
    parser.add_argument("--generation-median", type=float, default=180.0)
    parser.add_argument("--generation-sigma", type=float, default=0.6)
    parser.add_argument("--completion-window", help="Kiln's policy completion_window (2h, 8h) for long-queue workloads")
    # Seed 22 is a typical draw: its longest run (817 s) is the median longest of seeds 1-29 at
    # N = 100, and its mean generation (212 s) is near the distribution's (215 s).
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--timeout", type=float, default=1800, help="real seconds a system may take")
    parser.add_argument("--kiln", default=str(ROOT / ".build/release/kiln"))
    parser.add_argument("--replot", action="store_true", help="only rewrite bench.md and bench.png from --out's bench.json")
    args = parser.parse_args()
    if args.replot:
        write_report(Path(args.out), json.loads((Path(args.out) / "bench.json").read_text()))
        return
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"{args.kiln} is not built (scripts/bench builds it)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    systems = [s for s in args.systems.split(",") if s]
    known = {"kiln", "kiln_webhooks", "kiln_webhooks_drop20", "docs_loop", "blocking_pool"}
    unknown = set(systems) - known
    if unknown:
        sys.exit(f"unknown system(s): {', '.join(sorted(unknown))} ({', '.join(sorted(known))})")

    plan = plan_workload(args.runs, args.seed, args.queue_max, args.generation_median, args.generation_sigma, args.queue_min)
    longest = max(r["queue_s"] + r["generation_s"] for r in plan)
    workload = {"runs": args.runs, "queue_min_s": args.queue_min, "queue_max_s": args.queue_max,
                "generation_median_s": args.generation_median, "generation_sigma": args.generation_sigma,
                "generation_mean_s": round(statistics.mean(r["generation_s"] for r in plan), 1),
                "longest_s": round(longest, 1), "seed": args.seed, "scale": args.scale, "pool_scale": args.pool_scale,
                "docs_interval_s": args.interval, "workers": args.workers, "completion_window": args.completion_window}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    report = {"workload": workload, "systems": {},
              "machine": {"cpus": os.cpu_count(), "cpu": cpu, "system": f"{platform.system()} {platform.release()}"},
              "command": "scripts/bench " + " ".join(sys.argv[1:])}
    print(f"workload: {args.runs} runs, longest {longest:.0f} s, scale {args.scale} (pool {args.pool_scale})", flush=True)

    kiln_env, policy = {}, "{}"
    if args.completion_window:
        # The window is provider time the schedule does not scale; the deadline must cover it.
        policy = json.dumps({"completion_window": args.completion_window, "deadline_seconds": 8 * 3600})
    kiln_systems = [s for s in systems if s.startswith("kiln")]
    if kiln_systems:
        database = out / "kiln.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        history = args.runs if args.history is None else args.history
        if history:
            earlier = plan_workload(history, args.seed + 1, args.queue_max, args.generation_median, args.generation_sigma,
                                    args.queue_min, prefix="history")
            report["systems"]["kiln_cold"] = run_kiln_batch(args, "kiln_cold", earlier, database, args.scale, out, kiln_env, policy)
        # Each Kiln system works the same workload under its own run ids, on the same database
        # (so each has learned from the history batch and from the systems before it).
        for name, drop in (("kiln", None), ("kiln_webhooks", 0.0), ("kiln_webhooks_drop20", 0.2)):
            if name in systems:
                renamed = [dict(run, id=f"{name}-{run['id']}") for run in plan] if name != "kiln" else plan
                report["systems"][name] = run_kiln_batch(args, name, renamed, database, args.scale, out, kiln_env, policy, drop)
                write_report(out, report)
    if "docs_loop" in systems:
        report["systems"]["docs_loop"] = run_child(args, "docs_loop", "docs-loop", plan, args.scale, args.interval / args.scale, out)
        write_report(out, report)
    if "blocking_pool" in systems:
        report["systems"]["blocking_pool"] = run_child(args, "blocking_pool", "blocking-pool", plan, args.pool_scale, args.workers, out)
    write_report(out, report)
    print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("docs-loop", "blocking-pool"):
        child_main(sys.argv[1:])
    else:
        main()
