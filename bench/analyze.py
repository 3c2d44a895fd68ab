#!/usr/bin/env python3
# SPDX-License-Identifier: PostgreSQL
"""Benchmark helpers: read node logs, compute statistics, print the report.

  analyze.py last-ts LOG                 epoch µs of the last processed notification
  analyze.py first-after T_US LOG...     epoch µs of the first one processed after T_US
  analyze.py last-leading-after T_US LOG...
                                         epoch µs of the last "leading partition" line
                                         after T_US: every moved partition led again
  analyze.py latency LOG                 "<count> <p50 µs> <p99 µs> <max µs>": log time
                                         minus the epoch µs the payload carries
  analyze.py gaps KILLS_FILE LOG...      per kill time (one per line): notifications
                                         lost between the last one processed before it
                                         and the first one after (payloads are sequence
                                         numbers from one producer, so they are ordered)
  analyze.py report RESULTS OUT_JSON     the table, and every figure as JSON
"""
import calendar
import json
import re
import sys
import time

RECEIVED = re.compile(r'^(\S+)Z info \[[^\]]*\] Received (?:message|event): (?:id=\d+ )?'
                      r'channel="(?:[^"\\]|\\.)*" payload="((?:[^"\\]|\\.)*)"(?: sender_pid=\d+)?, '
                      r'with state: counter=(\d+)$')


def ts_us(stamp):
    date, frac = stamp.split('.')
    return calendar.timegm(time.strptime(date, '%Y-%m-%dT%H:%M:%S')) * 1000000 + int(frac.ljust(6, '0'))


def received(paths):
    for path in paths:
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                m = RECEIVED.match(line.rstrip('\n'))
                if m:
                    yield ts_us(m.group(1)), m.group(2), int(m.group(3))


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def cmd_last_ts(path):
    last = -1
    for t, _, _ in received([path]):
        last = t
    print(last)


def cmd_first_after(after, paths):
    after = int(after)
    best = min((t for t, _, _ in received(paths) if t > after), default=-1)
    print(best)


LEADING = re.compile(r'^(\S+)Z info \[[^\]]*\] leading partition \d+:')


def cmd_last_leading_after(after, paths):
    after, last = int(after), -1
    for path in paths:
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                m = LEADING.match(line)
                if m and ts_us(m.group(1)) > after:
                    last = max(last, ts_us(m.group(1)))
    print(last)


def cmd_latency(path):
    lat = [t - int(p) for t, p, _ in received([path]) if p.isdigit()]
    print(len(lat), pct(lat, 50), pct(lat, 99), max(lat) if lat else None)


def cmd_gaps(kills_file, paths):
    seen = sorted((int(p), t) for t, p, _ in received(paths) if p.isdigit())
    seqs = {s for s, _ in seen}
    with open(kills_file) as f:
        kills = [int(x) for x in f.read().split()]
    for k in kills:
        before = [s for s, t in seen if t < k]
        after = [s for s, t in seen if t > k]
        if not before or not after:
            print(-1)
            continue
        a, b = max(before), min(after)
        print(sum(1 for s in range(a + 1, b) if s not in seqs))


def load(results):
    data = {}
    with open(results) as f:
        for line in f:
            if not line.strip():
                continue
            key, value = line.split(None, 1)
            value = value.strip()
            try:
                value = float(value) if '.' in value else int(value)
            except ValueError:
                pass
            data.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 and not k.endswith(('.ms', '.lost')) else v
            for k, v in data.items()}


def fmt(v, unit=''):
    if v is None:
        return 'n/a'
    if isinstance(v, float):
        return f'{v:,.2f}{unit}' if v < 100 else f'{v:,.0f}{unit}'
    return f'{v:,}{unit}'


def cmd_report(results, out_json):
    d = load(results)
    figures = {'machine': d.get('machine'), 'postgres': d.get('postgres'),
               'fsync': d.get('fsync'), 'quick': d.get('quick'), 'throughput': {}, 'durable': {},
               'latency': {}, 'takeover': {}, 'footprint': {}, 'slow_handler': {}, 'quiet': {}, 'targets': {}}
    verdicts = []

    def target(name, ok, text):
        figures['targets'][name] = {'met': bool(ok), 'what': text}
        verdicts.append(f"  [{'met' if ok else 'NOT MET'}] {text}")

    print(f"\nclustered_nodes benchmark  ({d.get('machine')}; PostgreSQL {d.get('postgres')}, "
          f"fsync={d.get('fsync')}; quick={d.get('quick')})\n")
    print('Throughput (pgbench NOTIFY load, leader vs the raw listener in the same run)')
    print(f"  {'clients':>7} {'sent/s':>10} {'raw recv/s':>11} {'leader steps/s':>15} "
          f"{'ratio':>6} {'counter ok':>10}")
    for c in (1, 4, 8):
        p = f'throughput.c{c}.'
        if p + 'sent' not in d:
            continue
        row = {k[len(p):]: v for k, v in d.items() if k.startswith(p)}
        figures['throughput'][f'c{c}'] = row
        print(f"  {c:>7} {fmt(row['sent_per_s']):>10} {fmt(row['raw_per_s']):>11} "
              f"{fmt(row['leader_per_s']):>15} {row['ratio']:>6.3f} "
              f"{'yes' if row['counter_ok'] == 1 else 'NO':>10}")
        target(f'throughput_c{c}', row['ratio'] >= 0.95 and row['counter_ok'] == 1,
               f'leader >= 0.95 x raw at {c} client(s): {row["ratio"]:.3f}')

    if 'durable.sent' in d:
        du = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('durable.')}
        figures['durable'] = du
        plain = d.get(f"throughput.c{du['clients']}.leader_per_s")
        du['ratio_to_plain'] = du['leader_per_s'] / plain if plain else None
        print(f"\nDurable events (clustered_nodes.notify() from {du['clients']} pgbench clients, "
              f"each a committed INSERT + wake-up)")
        du['ratio_to_producers'] = du['leader_per_s'] / du['sent_per_s']
        print(f"  produced/s {fmt(du['sent_per_s'])}   leader steps/s {fmt(du['leader_per_s'])} "
              f"({du['ratio_to_producers']:.3f} of what was produced)   ratio to the plain leader at "
              f"{du['clients']} clients {du['ratio_to_plain']:.3f}   counter ok "
              f"{'yes' if du['counter_ok'] == 1 else 'NO'}")
        print("  (each durable event is a committed, fsynced INSERT: the producers are the limit)")

    if 'slow.burst' in d:
        sl = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('slow.')}
        figures['slow_handler'] = sl
        ceiling = 1000.0 / sl['handler_ms']
        measured = 1000.0 / sl['handler_measured_ms']
        sl['ratio_to_handler_ceiling'] = sl['events_per_s'] / ceiling
        sl['ratio_to_measured_handler'] = sl['events_per_s'] / measured
        print(f"\nOverload: a {sl['handler_ms']} ms SQL handler (pg_sleep; {sl['handler_measured_ms']:.2f} ms "
              f"a call measured alone), {sl['burst']:,} NOTIFYs sent in one transaction")
        print(f"  {fmt(sl['events_per_s'])} events/s = {sl['ratio_to_handler_ceiling']:.3f} x 1/nominal "
              f"handler time ({ceiling:,.0f}/s), {sl['ratio_to_measured_handler']:.3f} x 1/measured "
              f"({measured:,.0f}/s)")
        print(f"  term changes {sl['term_changes']}   self-demotions {sl['demotions']}   "
              f"leader peak RSS {sl['peak_rss_kib'] / 1024:.1f} MiB")
        target('slow_no_demotion', sl['demotions'] == 0 and sl['term_changes'] == 0,
               f"no self-demotion and no term change in the burst: {sl['demotions']} / {sl['term_changes']}")

    if 'partitions.n1.events_per_s' in d:
        pt = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('partitions.')}
        figures['partitions'] = pt
        one = pt['n1.events_per_s']
        print(f"\nPartitions: K = 8, a 2 ms SQL handler (pg_sleep; {pt['handler_measured_ms']:.2f} ms a "
              f"call measured alone), durable keyed events committed at once")
        for n in (1, 2, 4):
            v = pt.get(f'n{n}.events_per_s')
            if v is None:
                continue
            pt[f'n{n}.scaling'] = v / one
            print(f"  {n} node(s): {fmt(v)} events/s = {v / one:.2f} x one node   counter ok "
                  f"{'yes' if pt.get(f'n{n}.counter_ok') == 1 else 'NO'}")
        for case, what in (('join', 'a fourth node joins (3 3 2 -> 2 2 2 2)'),
                           ('sigkill', 'SIGKILL of one of four (-> 3 3 2)')):
            ms = pt.get(f'{case}.ms')
            if ms:
                ms = ms if isinstance(ms, list) else [ms]
                print(f"  rebalanced after {what}: p50 {pct(ms, 50):.0f} ms, max {max(ms):.0f} ms "
                      f"(n={len(ms)}; from the start or the kill to every partition led as planned)")
        if 'n4.scaling' in pt:
            target('partitions_scaling', pt['n4.scaling'] >= 3.5,
                   f"4 nodes >= 3.5 x one node at K = 8: {pt['n4.scaling']:.2f}")
        if 'join.ms' in pt:
            j = pt['join.ms'] if isinstance(pt['join.ms'], list) else [pt['join.ms']]
            target('partitions_join', max(j) <= 2000, f"rebalanced within 2 s of a join: max {max(j):.0f} ms")

    if 'quiet.ratio' in d:
        qt = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('quiet.')}
        figures['quiet'] = qt
        print("\nWhat standbys cost the database: pgbench NOTIFY on an unrelated channel, 4 clients")
        print(f"  leader alone {fmt(qt['leader_alone_per_s'])}/s   leader + 4 standbys "
              f"{fmt(qt['leader_and_4_standbys_per_s'])}/s   ratio {qt['ratio']:.3f}")
        target('quiet_standbys', qt['ratio'] >= 0.95,
               f"NOTIFY rate with 4 standbys >= 0.95 x leader alone: {qt['ratio']:.3f}")

    if 'latency.count' in d:
        lat = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('latency.')}
        figures['latency'] = lat
        print(f"\nLatency, NOTIFY commit -> leader's commit at {lat['rate']}/s "
              f"({lat['count']} notifications)")
        print(f"  p50 {lat['p50_us'] / 1000:.2f} ms   p99 {lat['p99_us'] / 1000:.2f} ms   "
              f"max {lat['max_us'] / 1000:.2f} ms")
        target('latency_p50', lat['p50_us'] <= 2000, f"p50 <= 2 ms: {lat['p50_us'] / 1000:.2f} ms")
        target('latency_p99', lat['p99_us'] <= 10000, f"p99 <= 10 ms: {lat['p99_us'] / 1000:.2f} ms")

    print('\nTakeover: from the kill to the first step committed by the new leader')
    print(f"  {'case':<28} {'n':>3} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost/gap':>14}")
    for case in ('poll_sigkill', 'wait_sigkill', 'poll_sigterm', 'poll_terminate'):
        ms = d.get(f'takeover.{case}.ms')
        if not ms:
            continue
        lost = d.get(f'takeover.{case}.lost', [])
        row = {'n': len(ms), 'p50_ms': pct(ms, 50), 'p99_ms': pct(ms, 99), 'max_ms': max(ms),
               'samples_ms': ms, 'lost_per_gap': lost}
        figures['takeover'][case] = row
        lost_txt = f"{min(lost)}-{max(lost)} (avg {sum(lost) / len(lost):.1f})" if lost else 'n/a'
        print(f"  {case:<28} {len(ms):>3} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
              f"{row['max_ms']:>8.1f} {lost_txt:>14}")
    print("  reference: Highlander (Elixir) median 31 ms after SIGKILL, counter lost, 2-5 "
          "notifications lost (DESIGN.md; not measured in this run)")
    t = figures['takeover']
    if 'poll_sigkill' in t:
        target('takeover_sigkill_p99', t['poll_sigkill']['p99_ms'] <= 25,
               f"SIGKILL takeover p99 <= 25 ms: {t['poll_sigkill']['p99_ms']:.1f} ms")
    if 'poll_sigterm' in t:
        target('handoff_p99', t['poll_sigterm']['p99_ms'] <= 25,
               f"graceful handoff p99 <= 25 ms: {t['poll_sigterm']['p99_ms']:.1f} ms")
    if 'poll_sigterm' in t and t['poll_sigterm']['lost_per_gap']:
        target('lost_per_planned_move', max(t['poll_sigterm']['lost_per_gap']) == 0,
               f"plain NOTIFYs lost per SIGTERM hand-over = 0: "
               f"{max(t['poll_sigterm']['lost_per_gap'])} at most")
    for case in ('poll_sigkill', 'wait_sigkill'):
        if case in t and t[case]['lost_per_gap']:
            lost = t[case]['lost_per_gap']
            print(f"  lost per crash ({case}, reported, no target): {min(lost)}-{max(lost)}")
    if 'wait_sigkill' in t:
        target('takeover_wait_p50', t['wait_sigkill']['p50_ms'] <= 35,
               f"SIGKILL takeover median <= 35 ms (wait mode): {t['wait_sigkill']['p50_ms']:.1f} ms")

    ptk = sorted({k.split('.')[1] for k in d if k.startswith('part_takeover.')},
                 key=lambda c: (int(c.split('_')[0][1:]), int(c.split('_')[1][1:])))
    if ptk:
        figures['part_takeover'] = {}
        print("\nPartition takeover: SIGKILL of one node, to the last of its partitions led again "
              "(the takers' log lines)")
        for c in ptk:
            ms = d[f'part_takeover.{c}.ms']
            ms = ms if isinstance(ms, list) else [ms]
            row = {'n': len(ms), 'p50_ms': pct(ms, 50), 'p99_ms': pct(ms, 99), 'max_ms': max(ms)}
            figures['part_takeover'][c] = row
            print(f"  K = {c.split('_')[0][1:]:>3}, {c.split('_')[1][1:]:>3} nodes: n {row['n']:>3}  "
                  f"p50 {row['p50_ms']:.1f} ms  p99 {row['p99_ms']:.1f} ms  max {row['max_ms']:.1f} ms")
            target(f'part_takeover_{c}', row['p99_ms'] <= 50,
                   f"every partition led again within p99 <= 50 ms ({c}): {row['p99_ms']:.1f} ms")

    fp = {k.split('.', 1)[1]: d[k] for k in d if k.startswith('footprint.')}
    figures['footprint'] = fp
    if fp:
        print('\nFootprint')
        print(f"  idle standby: RSS {fp['standby_rss_kib'] / 1024:.2f} MiB (PSS "
              f"{fp['standby_pss_kib'] / 1024:.2f} MiB, private {fp['standby_anon_kib'] / 1024:.2f} MiB; "
              f"the rest is shared library pages), CPU {fp['standby_cpu_pct']:.3f} % of a core")
        if 'leader_load_clients' in fp:  # measured by the throughput scenario
            print(f"  leader under load ({fp['leader_load_clients']} clients): peak RSS "
                  f"{fp['leader_rss_kib'] / 1024:.2f} MiB, CPU {fp['leader_cpu_pct']:.1f} % of a core")
        print(f"  binary: {fp['binary_bytes'] / 1024:.0f} KiB; start-up to standby: "
              f"p50 {fp['startup_ms_p50']:.1f} ms, max {fp['startup_ms_max']:.1f} ms")
        print("  reference: an Elixir node idles at 60-67 MB RSS (DESIGN.md)")
        target('standby_rss', fp['standby_rss_kib'] <= 4096,
               f"idle standby RSS <= 4 MiB: {fp['standby_rss_kib'] / 1024:.2f} MiB")
        target('standby_cpu', fp['standby_cpu_pct'] <= 0.5,
               f"idle standby CPU <= 0.5 %: {fp['standby_cpu_pct']:.3f} %")
        target('startup', fp['startup_ms_p50'] <= 50,
               f"start-up to standby <= 50 ms: p50 {fp['startup_ms_p50']:.1f} ms")

    idle = sorted({k.split('.')[1] for k in d if k.startswith('idle.')},
                  key=lambda c: (int(c.split('_')[0][1:]), int(c.split('_')[1][1:])))
    if idle:
        figures['idle'] = {c: {m: d[f'idle.{c}.{m}'] for m in ('server_cpu_pct', 'xact_per_s',
                                                              'nodes_cpu_pct')} for c in idle}
        print('\nIdle cost: no notifications; server CPU from /proc (every backend), % of one core')
        print(f"  {'K':>3} {'nodes':>6} {'server CPU %':>13} {'transactions/s':>15} {'nodes CPU %':>12}")
        for c in idle:
            row = figures['idle'][c]
            print(f"  {c.split('_')[0][1:]:>3} {c.split('_')[1][1:]:>6} {row['server_cpu_pct']:>13.1f} "
                  f"{row['xact_per_s']:>15.1f} {row['nodes_cpu_pct']:>12.1f}")
        for k in ('1', '16'):
            row = figures['idle'].get(f'k{k}_n51')
            if row:
                target(f'idle_k{k}_n51', row['server_cpu_pct'] <= 5 and row['xact_per_s'] <= 100,
                       f"51 idle nodes at K = {k} cost <= 5 % of a core and <= 100 transactions/s: "
                       f"{row['server_cpu_pct']:.1f} %, {row['xact_per_s']:.1f}/s")

    cap = {c: d[f'notify_capacity.{c}.tps'] for c in ('k1_n4', 'k8_n4', 'k8_n16')
           if f'notify_capacity.{c}.tps' in d}
    if 'k1_n4' in cap:
        mean = {c: sum(v if isinstance(v, list) else [v]) / len(v if isinstance(v, list) else [v])
                for c, v in cap.items()}
        figures['notify_capacity'] = {c: {'tps': cap[c], 'mean_tps': mean[c],
                                          'ratio_to_single': mean[c] / mean['k1_n4']}
                                      for c in cap}
        print('\nNOTIFY capacity: pgbench NOTIFYs on a channel no node listens on, beside an idle '
              'cluster (mean of the rounds)')
        for c in cap:
            print(f"  {c:<8} {mean[c]:>10.0f} NOTIFY/s  ratio to the single leader "
                  f"{mean[c] / mean['k1_n4']:.3f}")
        for c in ('k8_n4', 'k8_n16'):
            if c in mean:
                target(f'notify_capacity_{c}', mean[c] / mean['k1_n4'] >= 0.95,
                       f"NOTIFY capacity beside K = 8 of {c.split('_n')[1]} nodes >= 0.95 of a "
                       f"single leader's: {mean[c] / mean['k1_n4']:.3f}")

    print('\nTargets')
    print('\n'.join(verdicts))
    with open(out_json, 'w') as f:
        json.dump(figures, f, indent=2, sort_keys=True)
        f.write('\n')
    print(f'\nraw figures: {out_json}')


def main(argv):
    cmds = {'last-ts': cmd_last_ts, 'latency': cmd_latency, 'report': cmd_report}
    if len(argv) >= 3 and argv[1] in cmds:
        cmds[argv[1]](*argv[2:])
    elif len(argv) >= 4 and argv[1] == 'last-leading-after':
        cmd_last_leading_after(argv[2], argv[3:])
    elif len(argv) >= 4 and argv[1] == 'first-after':
        cmd_first_after(argv[2], argv[3:])
    elif len(argv) >= 4 and argv[1] == 'gaps':
        cmd_gaps(argv[2], argv[3:])
    else:
        sys.stderr.write(__doc__)
        return 64
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
