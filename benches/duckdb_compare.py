#!/usr/bin/env python3
"""DuckDB reference figures for `cargo bench --bench pipeline` (see docs/performance.md).

Usage: python3 benches/duckdb_compare.py DATA_DIR [RUNS]      (RUNS also from $BENCH_RUNS, default 5)

DATA_DIR holds the seven CSV files written by `cs-pulse demo --write-data`. The script

1. loads all seven files into an in-memory DuckDB database with `read_csv` and explicit column
   types, RUNS times (each run into a fresh database), and times it;
2. computes the quarter 2025-Q1's core KPIs in SQL, per account (one row per account) and for the
   portfolio, RUNS times each, and times it: closing and opening MRR from the subscription
   intervals with fx conversion (EUR = 1.08, as in the bench's config.toml), ARR, net new MRR,
   the five MRR movements (day by day from the intervals' change points), quick ratio, NRR, GRR,
   renewal rate, NPS, CSAT, CES, first-contact resolution, DAU, seat utilisation, minutes per
   active user, adoption rate (features_available = 30) and days to renewal; the portfolio adds
   customers, logo churn and ARPA;
3. reports the process's peak resident memory (getrusage ru_maxrss) after the load and queries.

It prints a readable summary on stderr and `key=value` lines on stdout that the Rust bench
parses: times are medians in seconds, memory in KiB.

What it does not do, unlike `cs-pulse sync`: validate values (ranges, ids, currencies, account
references) or report input errors with line numbers, accept RFC 3339 date-times (the demo data
has plain dates), or write a durable store. The per-account SQL does not compute `health`
(cs-pulse's default per-account metrics include it). Read the ratios with that in mind.
"""

import os
import resource
import statistics
import sys
import time

import duckdb

PERIOD_START = "2025-01-01"  # s
PERIOD_END = "2025-04-01"  # e (excluded)
DAYS = 90
FEATURES_AVAILABLE = 30
FX = {"USD": "1", "EUR": "1.08"}

# Explicit column types of the files (docs: README "The CSV format"). Columns not listed here
# (the custom account fields) are read as VARCHAR.
TYPES = {
    "accounts": {
        "id": "VARCHAR", "name": "VARCHAR", "owner": "VARCHAR", "segment": "VARCHAR",
        "plan": "VARCHAR", "created_at": "DATE", "renewal_date": "DATE",
        "licensed_seats": "INTEGER", "first_value_at": "DATE", "trial_started_at": "DATE",
        "trial_ended_at": "DATE", "converted_at": "DATE",
    },
    "subscriptions": {
        "id": "VARCHAR", "account_id": "VARCHAR", "mrr": "DECIMAL(18,4)", "currency": "VARCHAR",
        "start_date": "DATE", "end_date": "DATE",
    },
    "usage": {
        "account_id": "VARCHAR", "date": "DATE", "active_users": "INTEGER",
        "sessions": "INTEGER", "minutes": "DECIMAL(18,4)", "features_used": "INTEGER",
    },
    "survey_responses": {
        "id": "VARCHAR", "account_id": "VARCHAR", "kind": "VARCHAR", "score": "INTEGER",
        "submitted_at": "DATE", "comment": "VARCHAR",
    },
    "tickets": {
        "id": "VARCHAR", "account_id": "VARCHAR", "opened_at": "DATE", "resolved_at": "DATE",
        "first_response_at": "DATE", "contacts": "INTEGER",
    },
    "renewals": {
        "id": "VARCHAR", "account_id": "VARCHAR", "due_date": "DATE", "outcome": "VARCHAR",
        "amount": "DECIMAL(18,4)",
    },
    "costs": {"month": "VARCHAR", "amount": "DECIMAL(18,4)"},
}


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def load(con, data_dir):
    """Loads every CSV file present; returns the total number of records."""
    total = 0
    for table, types in TYPES.items():
        path = os.path.join(data_dir, table + ".csv")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
        cols = ", ".join(
            f"{sql_str(c)}: {sql_str(types.get(c, 'VARCHAR'))}" for c in header
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv({sql_str(path)}, "
            f"header = true, delim = ',', quote = '\"', auto_detect = false, columns = {{{cols}}})"
        )
        total += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return total


FX_CASE = "CASE currency " + " ".join(
    f"WHEN {sql_str(c)} THEN {r}" for c, r in FX.items()
) + " END"

# Shared building blocks (CTEs): M_a(s-1), M_a(e-1) and the day-by-day movements.
COMMON = f"""
subs AS (
    SELECT account_id, mrr * {FX_CASE} AS m, start_date, end_date FROM subscriptions
),
mrr AS (
    SELECT account_id,
        coalesce(sum(m) FILTER (WHERE start_date <= DATE '{PERIOD_END}' - 1
            AND (end_date IS NULL OR end_date > DATE '{PERIOD_END}' - 1)), 0) AS closing,
        coalesce(sum(m) FILTER (WHERE start_date <= DATE '{PERIOD_START}' - 1
            AND (end_date IS NULL OR end_date > DATE '{PERIOD_START}' - 1)), 0) AS opening
    FROM subs GROUP BY account_id
),
deltas AS (
    SELECT account_id, day, sum(delta) AS delta FROM (
        SELECT account_id, start_date AS day, m AS delta FROM subs
        UNION ALL
        SELECT account_id, end_date AS day, -m AS delta FROM subs WHERE end_date IS NOT NULL
    ) GROUP BY account_id, day
),
levels AS (
    SELECT account_id, day,
        sum(delta) OVER w AS now,
        sum(delta) OVER w - delta AS before
    FROM deltas
    WINDOW w AS (PARTITION BY account_id ORDER BY day ROWS UNBOUNDED PRECEDING)
),
paid AS (
    SELECT *, coalesce(max(CASE WHEN now > 0 THEN 1 ELSE 0 END) OVER (PARTITION BY account_id
        ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS paid_before
    FROM levels
),
moves AS (
    SELECT account_id,
        coalesce(sum(now) FILTER (WHERE before = 0 AND now > 0 AND paid_before = 0), 0) AS new_mrr,
        coalesce(sum(now - before) FILTER (WHERE before > 0 AND now > before), 0) AS expansion_mrr,
        coalesce(sum(now) FILTER (WHERE before = 0 AND now > 0 AND paid_before = 1), 0)
            AS reactivation_mrr,
        coalesce(sum(before - now) FILTER (WHERE now > 0 AND now < before), 0) AS contraction_mrr,
        coalesce(sum(before) FILTER (WHERE before > 0 AND now = 0), 0) AS churned_mrr
    FROM paid
    WHERE day >= DATE '{PERIOD_START}' AND day < DATE '{PERIOD_END}'
    GROUP BY account_id
),
use AS (
    SELECT account_id, sum(active_users) AS au, sum(minutes) AS minutes,
        avg(features) FILTER (WHERE features IS NOT NULL) AS features
    FROM (
        SELECT account_id, date, sum(active_users) AS active_users, sum(minutes) AS minutes,
            sum(features_used) AS features
        FROM usage WHERE date >= DATE '{PERIOD_START}' AND date < DATE '{PERIOD_END}'
        GROUP BY account_id, date
    ) GROUP BY account_id
),
voice AS (
    SELECT account_id,
        count(*) FILTER (WHERE kind = 'nps') AS nps_n,
        count(*) FILTER (WHERE kind = 'nps' AND score >= 9)
            - count(*) FILTER (WHERE kind = 'nps' AND score <= 6) AS nps_net,
        count(*) FILTER (WHERE kind = 'csat') AS csat_n,
        count(*) FILTER (WHERE kind = 'csat' AND score >= 4) AS csat_good,
        avg(score) FILTER (WHERE kind = 'ces') AS ces
    FROM survey_responses
    WHERE submitted_at >= DATE '{PERIOD_START}' AND submitted_at < DATE '{PERIOD_END}'
    GROUP BY account_id
),
tix AS (
    SELECT account_id, count(*) AS resolved, count(*) FILTER (WHERE contacts = 1) AS first
    FROM tickets
    WHERE resolved_at >= DATE '{PERIOD_START}' AND resolved_at < DATE '{PERIOD_END}'
    GROUP BY account_id
),
ren AS (
    SELECT account_id, count(*) FILTER (WHERE outcome = 'renewed') AS renewed,
        count(*) FILTER (WHERE outcome IN ('renewed', 'churned')) AS decided
    FROM renewals
    WHERE due_date >= DATE '{PERIOD_START}' AND due_date < DATE '{PERIOD_END}'
    GROUP BY account_id
)
"""

PER_ACCOUNT = f"""
WITH {COMMON}
SELECT a.id,
    coalesce(mrr.closing, 0) AS mrr,
    coalesce(mrr.opening, 0) AS opening_mrr,
    12 * coalesce(mrr.closing, 0) AS arr,
    coalesce(mrr.closing, 0) - coalesce(mrr.opening, 0) AS net_new_mrr,
    coalesce(mv.new_mrr, 0) AS new_mrr,
    coalesce(mv.expansion_mrr, 0) AS expansion_mrr,
    coalesce(mv.reactivation_mrr, 0) AS reactivation_mrr,
    coalesce(mv.contraction_mrr, 0) AS contraction_mrr,
    coalesce(mv.churned_mrr, 0) AS churned_mrr,
    (mv.new_mrr + mv.expansion_mrr + mv.reactivation_mrr)
        / nullif(mv.contraction_mrr + mv.churned_mrr, 0) AS quick_ratio,
    CASE WHEN mrr.opening > 0 THEN mrr.closing / mrr.opening END AS nrr,
    CASE WHEN mrr.opening > 0 THEN least(mrr.closing, mrr.opening) / mrr.opening END AS grr,
    ren.renewed / nullif(ren.decided, 0) AS renewal_rate,
    100 * voice.nps_net / nullif(voice.nps_n, 0) AS nps,
    100 * voice.csat_good / nullif(voice.csat_n, 0) AS csat,
    voice.ces,
    100 * tix.first / nullif(tix.resolved, 0) AS first_contact_resolution,
    coalesce(use.au, 0) / {DAYS} AS dau,
    coalesce(use.au, 0) / {DAYS} / nullif(a.licensed_seats, 0) AS seat_utilization,
    use.minutes / nullif(use.au, 0) AS minutes_per_active_user,
    use.features / {FEATURES_AVAILABLE} AS adoption_rate,
    a.renewal_date - (DATE '{PERIOD_END}' - 1) AS days_to_renewal
FROM accounts a
LEFT JOIN mrr ON mrr.account_id = a.id
LEFT JOIN moves mv ON mv.account_id = a.id
LEFT JOIN use ON use.account_id = a.id
LEFT JOIN voice ON voice.account_id = a.id
LEFT JOIN tix ON tix.account_id = a.id
LEFT JOIN ren ON ren.account_id = a.id
ORDER BY a.id
"""

PORTFOLIO = f"""
WITH {COMMON},
acc AS (
    SELECT a.id, a.licensed_seats, coalesce(mrr.closing, 0) AS closing,
        coalesce(mrr.opening, 0) AS opening
    FROM accounts a LEFT JOIN mrr ON mrr.account_id = a.id
),
r AS (
    SELECT sum(closing) AS mrr, sum(opening) AS opening_mrr,
        count(*) FILTER (WHERE closing > 0) AS customers,
        count(*) FILTER (WHERE opening > 0) AS cohort,
        count(*) FILTER (WHERE opening > 0 AND closing = 0) AS cohort_lost,
        sum(closing) FILTER (WHERE opening > 0) AS cohort_closing,
        sum(least(closing, opening)) FILTER (WHERE opening > 0) AS cohort_kept
    FROM acc
),
m AS (
    SELECT sum(new_mrr) AS new_mrr, sum(expansion_mrr) AS expansion_mrr,
        sum(reactivation_mrr) AS reactivation_mrr, sum(contraction_mrr) AS contraction_mrr,
        sum(churned_mrr) AS churned_mrr
    FROM moves
),
u AS (
    SELECT sum(au) AS au, sum(minutes) AS minutes FROM use
),
adopt AS (
    SELECT avg(features) AS features FROM (
        SELECT account_id, date, sum(features_used) AS features FROM usage
        WHERE date >= DATE '{PERIOD_START}' AND date < DATE '{PERIOD_END}'
            AND features_used IS NOT NULL
        GROUP BY account_id, date
    )
),
seats AS (
    SELECT sum(coalesce(use.au, 0)) AS au, sum(a.licensed_seats) AS seats
    FROM accounts a LEFT JOIN use ON use.account_id = a.id
    WHERE a.licensed_seats IS NOT NULL
),
v AS (
    SELECT sum(nps_n) AS nps_n, sum(nps_net) AS nps_net, sum(csat_n) AS csat_n,
        sum(csat_good) AS csat_good
    FROM voice
),
ces AS (
    SELECT avg(score) AS ces FROM survey_responses
    WHERE kind = 'ces' AND submitted_at >= DATE '{PERIOD_START}'
        AND submitted_at < DATE '{PERIOD_END}'
)
SELECT r.mrr, r.opening_mrr, 12 * r.mrr AS arr, r.mrr - r.opening_mrr AS net_new_mrr,
    m.new_mrr, m.expansion_mrr, m.reactivation_mrr, m.contraction_mrr, m.churned_mrr,
    (m.new_mrr + m.expansion_mrr + m.reactivation_mrr)
        / nullif(m.contraction_mrr + m.churned_mrr, 0) AS quick_ratio,
    r.cohort_closing / nullif(r.opening_mrr, 0) AS nrr,
    r.cohort_kept / nullif(r.opening_mrr, 0) AS grr,
    r.customers, r.cohort_lost / nullif(r.cohort, 0) AS logo_churn_rate,
    r.mrr / nullif(r.customers, 0) AS arpa,
    (SELECT sum(renewed) / nullif(sum(decided), 0) FROM ren) AS renewal_rate,
    100 * v.nps_net / nullif(v.nps_n, 0) AS nps,
    100 * v.csat_good / nullif(v.csat_n, 0) AS csat,
    ces.ces,
    (SELECT 100 * sum(first) / nullif(sum(resolved), 0) FROM tix) AS first_contact_resolution,
    u.au / {DAYS} AS dau,
    seats.au / {DAYS} / nullif(seats.seats, 0) AS seat_utilization,
    u.minutes / nullif(u.au, 0) AS minutes_per_active_user,
    adopt.features / {FEATURES_AVAILABLE} AS adoption_rate
FROM r, m, u, adopt, seats, v, ces
"""


def timed(runs, f):
    times = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times), result


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    data_dir = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("BENCH_RUNS", "5"))

    holder = {}

    def do_load():
        con = duckdb.connect()  # a fresh in-memory database each run
        n = load(con, data_dir)
        holder["con"] = con
        return n

    load_med, load_min, load_max, rows = timed(runs, do_load)
    con = holder["con"]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

    def per_account():
        return con.execute(PER_ACCOUNT).fetchall()

    def portfolio():
        return con.execute(PORTFOLIO).fetchall()

    pa_med, pa_min, pa_max, pa_rows = timed(runs, per_account)
    pf_med, pf_min, pf_max, pf_rows = timed(runs, portfolio)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    cols = [d[0] for d in con.description]
    print(f"duckdb {duckdb.__version__}, {threads} threads, {runs} runs, {rows} records",
          file=sys.stderr)
    print(f"  load     median {load_med:.3f} s (min {load_min:.3f}, max {load_max:.3f})",
          file=sys.stderr)
    print(f"  per-acct median {pa_med:.3f} s (min {pa_min:.3f}, max {pa_max:.3f}), "
          f"{len(pa_rows)} rows", file=sys.stderr)
    print(f"  portfol. median {pf_med:.3f} s (min {pf_min:.3f}, max {pf_max:.3f})",
          file=sys.stderr)
    print("  portfolio: " + ", ".join(f"{c}={v}" for c, v in zip(cols, pf_rows[0])),
          file=sys.stderr)
    print(f"  peak RSS {peak_kib / 1024 / 1024:.2f} GiB", file=sys.stderr)

    print(f"duckdb_version={duckdb.__version__}")
    print(f"duckdb_threads={threads}")
    print(f"duckdb_runs={runs}")
    print(f"duckdb_rows={rows}")
    print(f"duckdb_load_s={load_med:.4f}")
    print(f"duckdb_load_min_s={load_min:.4f}")
    print(f"duckdb_load_max_s={load_max:.4f}")
    print(f"duckdb_per_account_s={pa_med:.4f}")
    print(f"duckdb_per_account_min_s={pa_min:.4f}")
    print(f"duckdb_per_account_max_s={pa_max:.4f}")
    print(f"duckdb_per_account_rows={len(pa_rows)}")
    print(f"duckdb_portfolio_s={pf_med:.4f}")
    print(f"duckdb_portfolio_min_s={pf_min:.4f}")
    print(f"duckdb_portfolio_max_s={pf_max:.4f}")
    print(f"duckdb_peak_rss_kib={peak_kib}")


if __name__ == "__main__":
    main()
