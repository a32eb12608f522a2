"""Turns the output directory of scripts/share-bench.sh into the table of BENCHMARKS.md "Share groups".
usage: python3 scripts/share-bench-table.py OUTDIR"""
import re,sys,os
out=sys.argv[1]
counts={}
for line in open(os.path.join(out,'counts.txt')):
    lab,rest=line.split(': ',1)
    d=dict(kv.split('=') for kv in rest.split())
    counts[lab]=d
rows=["| partitions | consumers | accepted records/s | MB/s | drain s | per consumer records/s | ShareFetch p50 / p99 ms | fetches | share-state writes (per fetch), their time s | redelivery p50 / p99 ms |","| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for lab in ['p1c1','p1c2','p1c4','p4c1','p4c2','p4c4','p4c2-release10']:
    t=open(os.path.join(out,lab+'.txt')).read()
    m=re.search(r'\((\d+) consumers\): ([\d,]+) of ([\d,]+) records accepted in ([\d.]+) s, ([\d,]+) records/s, ([\d.]+) MB/s',t)
    f=re.search(r'share fetch\s+([\d.]+)\s+([\d.]+)',t)
    r=re.search(r'redelivery\s+([\d.]+)\s+([\d.]+)',t)
    per=re.findall(r'accepted [\d,]+ \(([\d,]+) records/s\)',t)
    dup=re.search(r'duplicates (\d+)',t).group(1)
    assert dup=='0'
    c=counts[lab]; w=int(c['writes']); fe=int(c['fetches'])
    p=lab[1]; cons=m.group(1)
    name = p + (' (10% released)' if 'release' in lab else '')
    rows.append(f"| {name} | {cons} | {m.group(5)} | {m.group(6)} | {m.group(4)} | {' / '.join(per)} | {f.group(1)} / {f.group(2)} | {fe} | {w} ({w/fe:.2f}), {float(c['write_s']):.2f} | {r.group(1)+' / '+r.group(2) if r else '-'} |")
print('\n'.join(rows))
pc=open(os.path.join(out,'plain.consume.txt')).read()
m=re.search(r'consume\s+([\d,]+)\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)',pc)
print(f"\nSame load (4 partitions) through librdkafka: `--mode consume` (assign, no group) {m.group(3)} records/s ({m.group(4)} MB/s); "
      f"`kcat -G` (consumer group, join included) {open(os.path.join(out,'kcat.time')).read().strip()} for all records.")
