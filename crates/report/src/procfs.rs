//! Linux `/proc` counters the sampler turns into rates: host CPU (`/proc/stat`), memory (`/proc/meminfo`),
//! disks (`/proc/diskstats`), network (`/proc/net/dev`) and a process's threads (`/proc/<pid>/task/*/stat`)
//! and resident memory. Parsers take the file's text so they are tested on fixtures; a file that is absent
//! or unreadable (another OS, a process that exited) reads as `None`, never as an error that stops a run.

use std::path::Path;

/// Linux reports process CPU time in clock ticks of 1/100 s for user space (`USER_HZ`, fixed on every
/// architecture Weft builds for).
pub const TICKS_PER_SEC: f64 = 100.0;
/// Bytes per sector in `/proc/diskstats` (always 512, whatever the device's own sector size).
const SECTOR_BYTES: u64 = 512;
/// Most threads read from one process (bounded work per sample).
const MAX_THREADS: usize = 4096;

/// Cumulative CPU time of the host or one core, in ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    pub busy: u64,
    pub iowait: u64,
    pub total: u64,
}

/// `/proc/stat`: the all-cores line, then one per core.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostCpu {
    pub all: CpuTimes,
    pub cores: Vec<CpuTimes>,
}

/// Cumulative counters of one whole disk.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskCounters {
    pub name: String,
    pub read_bytes: u64,
    pub write_bytes: u64,
    /// Milliseconds the device had I/O in flight (its utilisation over an interval).
    pub io_ms: u64,
}

/// Cumulative counters of one network interface.
#[derive(Debug, Clone, PartialEq)]
pub struct NetCounters {
    pub name: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// One thread's name and cumulative CPU ticks (user + system), and from `schedstat` (when the kernel keeps
/// it) its nanoseconds on a CPU plus waiting on a run queue: a thread that ran or wanted to run all the
/// time is CPU-bound even when a busy host gave it only part of a core.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadTicks {
    pub tid: u32,
    pub name: String,
    pub ticks: u64,
    pub demand_ns: Option<u64>,
}

/// A process's threads and resident memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessCounters {
    pub threads: Vec<ThreadTicks>,
    pub rss_bytes: Option<u64>,
}

/// Parses `/proc/stat`'s `cpu` lines: user nice system idle iowait irq softirq steal (guest time is
/// already inside user and nice, so it is not added again).
pub fn parse_stat(text: &str) -> Option<HostCpu> {
    let mut out = HostCpu::default();
    let mut seen_all = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(label) = fields.next().filter(|l| l.starts_with("cpu")) else { continue };
        let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        if v.len() < 5 {
            continue;
        }
        let total = v.iter().fold(0u64, |t, x| t.saturating_add(*x));
        let times = CpuTimes { busy: total.saturating_sub(v[3]).saturating_sub(v[4]), iowait: v[4], total };
        if label == "cpu" {
            (out.all, seen_all) = (times, true);
        } else {
            out.cores.push(times);
        }
    }
    seen_all.then_some(out)
}

/// `MemTotal` and `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find_map(|l| l.strip_prefix(key))?;
        line.trim_start_matches(':').split_whitespace().next()?.parse::<u64>().ok().map(|k| k * 1024)
    };
    Some((kib("MemTotal")?, kib("MemAvailable")?))
}

/// Whole disks from `/proc/diskstats` (partitions, loop and RAM devices left out, so nothing counts twice).
pub fn parse_diskstats(text: &str) -> Vec<DiskCounters> {
    let all: Vec<DiskCounters> = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            Some(DiskCounters {
                name: f.get(2)?.to_string(),
                read_bytes: n(5)?.saturating_mul(SECTOR_BYTES),
                write_bytes: n(9)?.saturating_mul(SECTOR_BYTES),
                io_ms: n(12)?,
            })
        })
        .filter(|d| !["loop", "ram", "zram", "sr"].iter().any(|p| d.name.starts_with(p)))
        .collect();
    let is_partition = |d: &DiskCounters| all.iter().any(|o| o.name != d.name && d.name.starts_with(&o.name));
    all.iter().filter(|d| !is_partition(d)).cloned().collect()
}

/// Interfaces from `/proc/net/dev`, loopback left out (traffic to a local target is not network load).
pub fn parse_net_dev(text: &str) -> Vec<NetCounters> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let f: Vec<u64> = rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            Some(NetCounters { name: name.trim().to_string(), rx_bytes: *f.first()?, tx_bytes: *f.get(8)? })
        })
        .filter(|n| n.name != "lo")
        .collect()
}

/// A thread's name and utime + stime from its `stat` line (the name, in parentheses, may hold spaces).
pub fn parse_thread_stat(tid: u32, text: &str) -> Option<ThreadTicks> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 counting from the state field.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ThreadTicks { tid, name, ticks, demand_ns: None })
}

/// On-CPU plus run-queue nanoseconds from a `schedstat` line (`run_ns wait_ns timeslices`).
pub fn parse_schedstat(text: &str) -> Option<u64> {
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some(f.next()??.saturating_add(f.next()??))
}

/// `VmRSS` from a `status` file, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?;
    kb.parse::<u64>().ok().map(|k| k * 1024)
}

/// The host's CPU counters now.
pub fn host_cpu() -> Option<HostCpu> {
    parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

pub fn meminfo() -> Option<(u64, u64)> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

pub fn disks() -> Vec<DiskCounters> {
    std::fs::read_to_string("/proc/diskstats").map(|t| parse_diskstats(&t)).unwrap_or_default()
}

pub fn networks() -> Vec<NetCounters> {
    std::fs::read_to_string("/proc/net/dev").map(|t| parse_net_dev(&t)).unwrap_or_default()
}

/// The summed link speed of the interfaces, bytes/s, when every one reports it (virtual ones do not).
pub fn link_capacity_bytes_per_sec(interfaces: &[NetCounters]) -> Option<f64> {
    let mut total = 0.0;
    for i in interfaces {
        let speed = std::fs::read_to_string(format!("/sys/class/net/{}/speed", i.name)).ok()?;
        let mbit: f64 = speed.trim().parse().ok().filter(|s: &f64| *s > 0.0)?;
        total += mbit * 1_000_000.0 / 8.0;
    }
    (total > 0.0).then_some(total)
}

/// A process's threads and memory: `pid` `None` is this process.
pub fn process(pid: Option<u32>) -> Option<ProcessCounters> {
    let base = pid.map_or_else(|| "/proc/self".to_string(), |p| format!("/proc/{p}"));
    let tasks = std::fs::read_dir(Path::new(&base).join("task")).ok()?;
    let threads = tasks
        .filter_map(Result::ok)
        .take(MAX_THREADS)
        .filter_map(|entry| {
            let tid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let mut thread = parse_thread_stat(tid, &std::fs::read_to_string(entry.path().join("stat")).ok()?)?;
            thread.demand_ns =
                std::fs::read_to_string(entry.path().join("schedstat")).ok().and_then(|t| parse_schedstat(&t));
            Some(thread)
        })
        .collect();
    let rss_bytes = std::fs::read_to_string(Path::new(&base).join("status")).ok().and_then(|s| parse_rss(&s));
    Some(ProcessCounters { threads, rss_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_gives_busy_and_iowait_per_core() {
        let text = "cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 60 0 30 400 10 0 0 0 0 0\n\
                    cpu1 40 0 20 400 30 5 5 0 0 0\nintr 1 2 3\nctxt 99\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.all, CpuTimes { busy: 160, iowait: 40, total: 1000 });
        assert_eq!(s.cores.len(), 2);
        assert_eq!(s.cores[1], CpuTimes { busy: 70, iowait: 30, total: 500 });
        assert!(parse_stat("intr 1\n").is_none());
    }

    #[test]
    fn meminfo_in_bytes() {
        let text = "MemTotal:       16384 kB\nMemFree:  100 kB\nMemAvailable:   8192 kB\n";
        assert_eq!(parse_meminfo(text), Some((16384 * 1024, 8192 * 1024)));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn diskstats_keep_whole_disks_only() {
        let text = "   8       0 sda 100 0 2000 50 300 0 4000 70 0 900 120 0 0 0 0\n\
                       8       1 sda1 90 0 1900 40 290 0 3900 60 0 800 100 0 0 0 0\n\
                     259       0 nvme0n1 10 0 20 1 30 0 40 2 0 15 3\n\
                     259       1 nvme0n1p1 10 0 20 1 30 0 40 2 0 15 3\n\
                       7       0 loop0 1 0 2 0 0 0 0 0 0 1 0\n\
                     short line\n";
        let d = parse_diskstats(text);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sda", "nvme0n1"]);
        assert_eq!((d[0].read_bytes, d[0].write_bytes, d[0].io_ms), (2000 * 512, 4000 * 512, 900));
    }

    #[test]
    fn net_dev_leaves_out_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n  \
            eth0: 123456 100 0 0 0 0 0 0 654321 90 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(text), [NetCounters { name: "eth0".into(), rx_bytes: 123456, tx_bytes: 654321 }]);
    }

    #[test]
    fn thread_stat_names_may_hold_spaces_and_parens() {
        let text = "4242 (rdk:broker (1)) S 1 1 1 0 -1 4194368 100 0 0 0 250 30 0 0 20 0 1 0 100 0 0";
        let t = parse_thread_stat(4242, text).unwrap();
        assert_eq!((t.name.as_str(), t.ticks), ("rdk:broker (1)", 280));
        assert!(parse_thread_stat(1, "1 (x) S 1").is_none());
        assert_eq!(parse_schedstat("1000 250 7\n"), Some(1250));
        assert_eq!(parse_schedstat("1000"), None);
        assert_eq!(parse_rss("Name: x\nVmRSS:\t  2048 kB\n"), Some(2048 * 1024));
    }

    #[test]
    fn this_process_is_readable() {
        if !Path::new("/proc/self/task").exists() {
            return; // not Linux
        }
        let p = process(None).unwrap();
        assert!(!p.threads.is_empty());
        assert!(p.rss_bytes.unwrap() > 0);
        assert!(!host_cpu().unwrap().cores.is_empty());
    }
}
