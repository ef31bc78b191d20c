"""Kiln's price lanes side by side: what the same work costs in each, and how long it waits.

Run through `scripts/bench-lanes`, which prepares the Python environment (debug build by default).
One fresh simulator (`kiln simulate`) and one fresh SQLite file per lane, the same planned work
for all: N `document_summary` runs whose texts carry only their generation time, drawn like
bench.py's plan (log-normal, median 180 s, sigma 0.6, provider time). The queue wait is the
lane's own, drawn by the simulator: standard and flex 0-10 s, window_2h and window_8h up to
--window-queue-wait-max, batch up to --batch-queue-wait-max after the batch validated. A share
of flex creates is refused for capacity (--flex-busy-share); Kiln tries them again and sends them
at standard once flex_fallback_seconds have passed.

Lanes (`policy.lane`): standard, flex (x0.5), window_2h (x0.7), window_8h (x0.6), batch (x0.5).
Kiln applies the multiplier to each run's cost_micros; the cost reported is its SUM, per 100 runs.

Kiln's schedule is scaled like the provider's time (bench.kiln_environment, plus the batch and
flex durations and the submitter's rate budgets). The deadline is set far (200,000 s, unscaled):
the batch lane takes only runs at least 24 h + gather + poll real seconds from it. Every time is
reported in provider time (real seconds x scale).
"""
import argparse
import json
import os
import platform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench  # noqa: E402

ROOT = bench.ROOT
LANES = ("standard", "flex", "window_2h", "window_8h", "batch")
COLORS = {"standard": "#2874a6", "flex": "#17a589", "window_2h": "#d68910", "window_8h": "#ca6f1e", "batch": "#c0392b"}
# Kiln's own durations (defaults, provider seconds) that bench.kiln_environment leaves unscaled.
LANE_DURATIONS = {"BATCH_GATHER_SECONDS": 300, "BATCH_POLL_SECONDS": 60, "BATCH_RETRY_SECONDS": 30,
                  "SUBMITTER_FLEX_RETRY_SECONDS": 60, "SUBMITTER_FLEX_FALLBACK_SECONDS": 900}
# Kiln's rate budgets (defaults, per real second or minute): scaled up so they hold in provider time.
LANE_RATES = {"SUBMITTER_MAX_REQUESTS_PER_SECOND": 50, "SUBMITTER_MAX_INPUT_TOKENS_PER_MINUTE": 2_000_000}


# ---------------------------------------------------------------- the workload

def plan_lanes_workload(args):
    """bench.plan_workload's runs (the same draws) without their queue directive: the lane sets the wait."""
    plan = bench.plan_workload(args.runs, args.seed, 0.0, args.generation_median, args.generation_sigma)
    return [{"id": run["id"], "generation_s": run["generation_s"],
             "text": pad(re.sub(r"\[sim:queue=[^\]]*\]", "", run["text"]), args.document_chars)}
            for run in plan]


FILLER = ("Sales in the northern region rose for the third quarter in a row, led by the industrial line; "
          "the southern region was flat, and the new plant is on schedule and on budget. ")


def pad(text, chars):
    """The run's text grown to about `chars` characters (a document worth summarizing: input is what lanes discount)."""
    return text + " " + FILLER * max(0, (chars - len(text)) // len(FILLER))


def simulator_options(args):
    """The same simulator for every lane: only the lane Kiln sends on picks the queue wait."""
    return ["--queue-wait-max", str(args.queue_max), "--window-queue-wait-max", str(args.window_queue_wait_max),
            "--batch-queue-wait-max", str(args.batch_queue_wait_max), "--batch-window", str(args.batch_window),
            "--flex-busy-share", str(args.flex_busy_share)]


def lane_environment(args, lane, database, base):
    """bench.kiln_environment for one lane, with the lane's durations and the rate budgets scaled."""
    extra = {"KILN_POLICY_LANE": lane, "KILN_POLICY_DEADLINE_SECONDS": str(args.deadline)}
    for key, seconds in LANE_DURATIONS.items():
        extra["KILN_" + key] = f"{seconds / args.scale:.6g}"
    for key, rate in LANE_RATES.items():
        extra["KILN_" + key] = str(round(rate * args.scale))
    return bench.kiln_environment(args.scale, database, base, extra)


# ---------------------------------------------------------------- one lane

def wait_until_terminal(database, ids, deadline):
    """Polls the database until every run is terminal or the real-time deadline passes; the runs left."""
    reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    marks, terminal = ",".join("?" * len(ids)), ",".join(f"'{s}'" for s in sorted(bench.TERMINAL))
    try:
        while True:
            (left,) = reader.execute(f"SELECT count(*) FROM ai_runs WHERE id IN ({marks}) AND status NOT IN ({terminal})",
                                     ids).fetchone()
            if left == 0 or time.time() > deadline:
                return left
            time.sleep(0.2)
    finally:
        reader.close()


def run_lane(args, lane, plan, out):
    """The plan worked to the end by `kiln work` on `lane`, on a fresh simulator and SQLite file."""
    database = out / f"{lane}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    simulator = bench.Simulator(args.kiln, args.scale, out / f"simulator-{lane}.log", options=simulator_options(args))
    try:
        env = lane_environment(args, lane, database, simulator.base)
        migrate = subprocess.run([args.kiln, "migrate"], env=env, capture_output=True, text=True)
        if migrate.returncode != 0:
            sys.exit(f"kiln migrate failed: {migrate.stderr.strip()}")
        bench.insert_runs(database, plan)
        started = time.time()
        with open(out / f"{lane}.log", "wb") as log:
            worker = subprocess.Popen([args.kiln, "work"], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                left = wait_until_terminal(database, [run["id"] for run in plan], started + args.timeout)
            finally:
                worker.send_signal(signal.SIGTERM)
                code = worker.wait()
        stats = bench.get_json(simulator.base + "/_sim/stats")
    finally:
        simulator.stop()
    return measure(args, lane, plan, database, started, stats, {"unfinished": left, "exit_code": code})


def measure(args, lane, plan, database, started, stats, extra):
    """Cost, makespan, turnaround and the lane's own counts, from the database and the simulator."""
    scale, runs = args.scale, len(plan)
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        ids = [run["id"] for run in plan]
        rows = db.execute(f"SELECT status, created_at, finalized_at FROM ai_runs WHERE id IN ({','.join('?' * runs)})",
                          ids).fetchall()
        (cost_micros,) = db.execute("SELECT SUM(cost_micros) FROM ai_runs").fetchone()
        (fallbacks,) = db.execute("SELECT count(DISTINCT run_id) FROM ai_run_events "
                                  "WHERE kind = 'send_started' AND details LIKE '%fallback_from%'").fetchone()
        refusals, refused_runs = db.execute("SELECT count(*), count(DISTINCT run_id) FROM ai_run_events "
                                            "WHERE kind = 'requeued' AND details LIKE '%flex_unavailable%'").fetchone()
    statuses = {}
    for status, _, _ in rows:
        statuses[status] = statuses.get(status, 0) + 1
    finished = [(bench.parse_timestamp(c), bench.parse_timestamp(f)) for _, c, f in rows if f]
    turnarounds = [(f - c) * scale / 60 for c, f in finished]
    makespan_s = (max(f for _, f in finished) - started) * scale if finished else None
    cost = (cost_micros or 0) / 1e6 * 100 / runs
    result = {
        "lane": lane, "runs": runs, "statuses": statuses, "cost_per_100_runs_usd": round(cost, 4),
        "cost_micros": cost_micros or 0,
        "makespan_provider_min": round(makespan_s / 60, 1) if finished else None,
        "makespan_provider_h": round(makespan_s / 3600, 3) if finished else None,
        "turnaround_p50_provider_min": round(bench.percentile(turnarounds, 50), 1) if turnarounds else None,
        "turnaround_p99_provider_min": round(bench.percentile(turnarounds, 99), 1) if turnarounds else None,
        "creates": stats["creates"], "batches": stats["batches"], "file_uploads": stats["file_uploads"],
        "fallbacks_to_standard": fallbacks, "flex_refusals": refusals, "flex_refused_runs": refused_runs,
        "real_s": round(time.time() - started, 1),
    } | extra
    print(f"  {lane}: {statuses}, ${cost:.4f} per 100 runs, makespan {result['makespan_provider_h']} provider h, "
          f"turnaround p50 {result['turnaround_p50_provider_min']} p99 {result['turnaround_p99_provider_min']} provider min, "
          f"{stats['creates']} creates, {stats['batches']} batches, {fallbacks} fallbacks, {refusals} flex refusals "
          f"({result['real_s']} real s)", flush=True)
    return result


# ---------------------------------------------------------------- report

def notes(lane):
    """What the table's notes column says of a lane: its calls, refusals and fallbacks, anything unfinished."""
    parts = [f"{lane['creates']} creates"]
    if lane["batches"] or lane["file_uploads"]:
        parts.append(f"batches: {lane['batches']}, file uploads: {lane['file_uploads']}")
    if lane["flex_refusals"]:
        parts.append(f"{lane['flex_refusals']} flex refusals ({lane['flex_refused_runs']} runs)")
    if lane["fallbacks_to_standard"]:
        parts.append(f"{lane['fallbacks_to_standard']} runs fell back to standard")
    others = {s: n for s, n in lane["statuses"].items() if s != "completed"}
    if others:
        parts.append("not completed: " + ", ".join(f"{n} {s}" for s, n in sorted(others.items())))
    if lane["unfinished"]:
        parts.append(f"{lane['unfinished']} unfinished at the timeout")
    return "; ".join(parts)


def table(report):
    """The lanes as one markdown table, each cost also as a share of the standard lane's."""
    lanes = report["lanes"]
    standard = lanes.get("standard", {}).get("cost_per_100_runs_usd")
    lines = ["| lane | cost per 100 runs ($) | vs standard | makespan (provider h) | p50 / p99 turnaround (provider min) | notes |",
             "|---|---|---|---|---|---|"]
    for name, lane in lanes.items():
        cost = lane["cost_per_100_runs_usd"]
        versus = f"{cost / standard:.2f}×" if standard else "–"
        lines.append(f"| {name} | {cost:.4f} | {versus} | {lane['makespan_provider_h']} | "
                     f"{lane['turnaround_p50_provider_min']} / {lane['turnaround_p99_provider_min']} | {notes(lane)} |")
    return "\n".join(lines)


def plot(out, report):
    """The price of patience: each lane's cost per 100 runs against its makespan."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lanes = {n: l for n, l in report["lanes"].items() if l["makespan_provider_h"] is not None}
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, lane in lanes.items():
        x, y = lane["makespan_provider_h"], lane["cost_per_100_runs_usd"]
        ax.scatter(x, y, s=160, color=COLORS.get(name, "gray"), zorder=3)
        ax.annotate(f"{name}\n${y:.4f} per 100 runs, {x:.2f} h", (x, y), textcoords="offset points", xytext=(10, 4), fontsize=9)
    ax.set_xlim(0, max((l["makespan_provider_h"] for l in lanes.values()), default=1) * 1.4)
    ax.set_ylim(0, max((l["cost_per_100_runs_usd"] for l in lanes.values()), default=1) * 1.2)
    ax.set_xlabel("makespan: start to the last run finalized (provider hours)")
    ax.set_ylabel("cost per 100 runs ($, Kiln's cost_micros)")
    ax.set_title(f"The price of patience: {report['parameters']['runs']} document summaries in each of Kiln's lanes")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "lanes.png", dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description="Kiln's price lanes side by side: cost against makespan.")
    parser.add_argument("--lanes", default=",".join(LANES), help="comma-separated lanes to run, in this order")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--document-chars", type=int, default=12_000, help="length of each run's document (about 4 characters a token)")
    parser.add_argument("--out", default=str(ROOT / "docs/benchmarks/lanes"), help="lanes.json and lanes.png")
    parser.add_argument("--work", default=str(ROOT / "out/bench-lanes"), help="each lane's database and logs")
    parser.add_argument("--scale", type=float, default=120.0, help="provider seconds per real second")
    parser.add_argument("--seed", type=int, default=22, help="seed of the planned generation times (bench.py's)")
    parser.add_argument("--generation-median", type=float, default=180.0)
    parser.add_argument("--generation-sigma", type=float, default=0.6)
    parser.add_argument("--queue-max", type=float, default=10.0, help="standard (and flex) queue wait, 0 to this (provider s)")
    parser.add_argument("--window-queue-wait-max", type=float, default=600.0, help="window_2h/8h queue wait (provider s)")
    parser.add_argument("--batch-queue-wait-max", type=float, default=3600.0, help="a batch request's wait (provider s)")
    parser.add_argument("--batch-window", type=float, default=86400.0, help="a batch's completion window (provider s)")
    parser.add_argument("--flex-busy-share", type=float, default=0.3, help="share of flex creates refused with 429")
    parser.add_argument("--deadline", type=int, default=200_000, help="policy.deadline_seconds (real s, unscaled)")
    parser.add_argument("--timeout", type=float, default=600, help="real seconds a lane may take")
    parser.add_argument("--kiln", default=str(ROOT / ".build/debug/kiln"))
    args = parser.parse_args()
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"{args.kiln} is not built (scripts/bench-lanes builds it)")
    lanes = [lane for lane in args.lanes.split(",") if lane]
    unknown = set(lanes) - set(LANES)
    if unknown:
        sys.exit(f"unknown lane(s): {', '.join(sorted(unknown))} ({', '.join(LANES)})")
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    plan = plan_lanes_workload(args)
    parameters = {key: value for key, value in vars(args).items() if key not in ("out", "work", "kiln")}
    parameters |= {"lanes": lanes, "kiln": os.path.relpath(args.kiln, ROOT), "simulator_options": simulator_options(args),
                   "generation_mean_s": round(statistics.mean(r["generation_s"] for r in plan), 1),
                   "generation_longest_s": round(max(r["generation_s"] for r in plan), 1),
                   "scaled_kiln_keys": {**{"KILN_" + k: v / args.scale for k, v in LANE_DURATIONS.items()},
                                        **{"KILN_" + k: v * args.scale for k, v in LANE_RATES.items()}}}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    report = {"parameters": parameters, "lanes": {},
              "machine": {"cpus": os.cpu_count(), "cpu": cpu, "system": f"{platform.system()} {platform.release()}"},
              "command": "scripts/bench-lanes " + " ".join(sys.argv[1:])}
    print(f"workload: {args.runs} runs, longest generation {parameters['generation_longest_s']:.0f} s, "
          f"scale {args.scale:g}, lanes {', '.join(lanes)}", flush=True)
    for lane in lanes:
        report["lanes"][lane] = run_lane(args, lane, plan, work)
        (out / "lanes.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(out, report)
    print()
    print(table(report))
    print(f"\nwrote {out / 'lanes.json'}, {out / 'lanes.png'}")


if __name__ == "__main__":
    main()
