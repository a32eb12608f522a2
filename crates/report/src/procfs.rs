//! Linux `/proc` counters the sampler turns into rates: host CPU (`/proc/stat`), memory (`/proc/meminfo`),
//! disks (`/proc/diskstats`), network (`/proc/net/dev`) and a process's threads (`/proc/<pid>/task/*/stat`)
//! and resident memory; and from `/sys`, what the counters are measured against: which block devices are
//! partitions or stacked on others, which interfaces are physical and their speed, and how many cores a
//! process may use (its CPU affinity and its cgroup's `cpu.max`). Parsers take the file's text, and the
//! `/sys` readers a root directory, so they are tested on fixtures; a file that is absent or unreadable
//! (another OS, a process that exited) reads as `None`, never as an error that stops a run.

use std::collections::BTreeMap;
use std::path::Path;

/// Linux reports process CPU time in clock ticks of 1/100 s for user space (`USER_HZ`, fixed on every
/// architecture Weft builds for).
pub const TICKS_PER_SEC: f64 = 100.0;
/// Bytes per sector in `/proc/diskstats` (always 512, whatever the device's own sector size).
const SECTOR_BYTES: u64 = 512;
/// Most threads read from one process (bounded work per sample).
const MAX_THREADS: usize = 4096;
/// Most cgroup levels walked up from a process's own (bounded work; real hierarchies are a few deep).
const MAX_CGROUP_DEPTH: usize = 32;

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
    /// Built on other block devices (device-mapper, md RAID: `/sys/class/block/<name>/slaves` not empty):
    /// its bytes are the devices' beneath it again, so they are not added to the host's total.
    pub stacked: bool,
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

/// Block devices from `/proc/diskstats`, loop, RAM and optical devices left out (`whole_disks` then drops
/// partitions).
pub fn parse_diskstats(text: &str) -> Vec<DiskCounters> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            Some(DiskCounters {
                name: f.get(2)?.to_string(),
                read_bytes: n(5)?.saturating_mul(SECTOR_BYTES),
                write_bytes: n(9)?.saturating_mul(SECTOR_BYTES),
                io_ms: n(12)?,
                stacked: false,
            })
        })
        .filter(|d| !["loop", "ram", "zram", "sr"].iter().any(|p| d.name.starts_with(p)))
        .collect()
}

/// The devices that are not partitions (`<sys>/class/block/<name>/partition` absent: names say nothing,
/// `sdaa` is a disk and `nvme0n10` a namespace), marking the stacked ones. Without sysfs every device is
/// kept (a partition's bytes then count twice).
pub fn whole_disks(devices: Vec<DiskCounters>, sys: &Path) -> Vec<DiskCounters> {
    let block = sys.join("class/block");
    devices
        .into_iter()
        .filter(|d| !block.join(&d.name).join("partition").exists())
        .map(|d| {
            let slaves = std::fs::read_dir(block.join(&d.name).join("slaves"));
            let stacked = slaves.is_ok_and(|mut s| s.next().is_some());
            DiskCounters { stacked, ..d }
        })
        .collect()
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

/// The number of CPUs in a `Cpus_allowed_list` value (`0-3,8,10-11`).
pub fn parse_cpu_list(list: &str) -> Option<u32> {
    let mut count = 0u32;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        let (from, to): (u32, u32) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
        count = count.saturating_add(to.checked_sub(from)?.saturating_add(1));
    }
    (count > 0).then_some(count)
}

/// Cores a cgroup v2 `cpu.max` (`quota period`, or `max period`) allows; `None` when unlimited.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut f = text.split_whitespace();
    let quota: f64 = f.next()?.parse().ok()?; // "max" does not parse: unlimited
    let period: f64 = f.next()?.parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// The cgroup v2 path of a `/proc/<pid>/cgroup` file (its `0::` line).
pub fn parse_cgroup(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::")).map(str::trim)
}

/// How many cores a process may use: the fewer of its CPU affinity (`Cpus_allowed_list`) and the tightest
/// `cpu.max` quota on its cgroup or any ancestor; `None` when neither can be read. `pid` `None` is this
/// process. `proc` and `sys` are normally `/proc` and `/sys`.
pub fn cpu_limit(proc: &Path, sys: &Path, pid: Option<u32>) -> Option<f64> {
    let base = proc.join(pid.map_or_else(|| "self".to_string(), |p| p.to_string()));
    let status = std::fs::read_to_string(base.join("status")).ok();
    let affinity = status.as_deref().and_then(|s| {
        let list = s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
        parse_cpu_list(list).map(f64::from)
    });
    let cgroup_file = std::fs::read_to_string(base.join("cgroup")).ok();
    let quota = cgroup_file.as_deref().and_then(parse_cgroup).and_then(|path| {
        let mut dir = Some(Path::new(path.trim_start_matches('/')));
        let mut tightest: Option<f64> = None;
        for _ in 0..MAX_CGROUP_DEPTH {
            let Some(d) = dir else { break };
            let max = std::fs::read_to_string(sys.join("fs/cgroup").join(d).join("cpu.max")).ok();
            if let Some(cores) = max.as_deref().and_then(parse_cpu_max) {
                tightest = Some(tightest.map_or(cores, |t: f64| t.min(cores)));
            }
            dir = d.parent();
        }
        tightest
    });
    match (affinity, quota) {
        (Some(a), Some(q)) => Some(a.min(q)),
        (a, q) => a.or(q),
    }
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
    let devices = std::fs::read_to_string("/proc/diskstats").map(|t| parse_diskstats(&t)).unwrap_or_default();
    whole_disks(devices, Path::new("/sys"))
}

pub fn networks() -> Vec<NetCounters> {
    std::fs::read_to_string("/proc/net/dev").map(|t| parse_net_dev(&t)).unwrap_or_default()
}

/// What an interface is measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Backed by a device (`<sys>/class/net/<name>/device`): not a bridge, veth, tunnel or bond, whose
    /// traffic is some physical interface's again.
    pub physical: bool,
    /// Its speed (`<sys>/class/net/<name>/speed`), when it reports one.
    pub speed_bytes_per_sec: Option<f64>,
}

/// Each interface's kind and speed. `sys` is normally `/sys`.
pub fn links(interfaces: &[NetCounters], sys: &Path) -> BTreeMap<String, Link> {
    let net = sys.join("class/net");
    interfaces
        .iter()
        .map(|i| {
            let dir = net.join(&i.name);
            let speed = std::fs::read_to_string(dir.join("speed")).ok();
            let mbit = speed.and_then(|s| s.trim().parse::<f64>().ok()).filter(|s| *s > 0.0);
            let link = Link { physical: dir.join("device").exists(), speed_bytes_per_sec: mbit.map(|m| m * 125_000.0) };
            (i.name.clone(), link)
        })
        .collect()
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
        let sys = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sys.path().join("class/block/sda1")).unwrap();
        std::fs::write(sys.path().join("class/block/sda1/partition"), "1\n").unwrap();
        std::fs::create_dir_all(sys.path().join("class/block/nvme0n1p1")).unwrap();
        std::fs::write(sys.path().join("class/block/nvme0n1p1/partition"), "1\n").unwrap();
        let d = whole_disks(parse_diskstats(text), sys.path());
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sda", "nvme0n1"]);
        assert_eq!((d[0].read_bytes, d[0].write_bytes, d[0].io_ms), (2000 * 512, 4000 * 512, 900));
    }

    #[test]
    fn disks_whose_names_extend_another_are_whole_and_stacked_ones_are_marked() {
        let text = "8 0 sda 1 0 2 0 3 0 4 0 0 5 0\n65 160 sdaa 1 0 2 0 3 0 4 0 0 5 0\n\
                    253 1 dm-1 1 0 2 0 3 0 4 0 0 5 0\n253 10 dm-10 1 0 2 0 3 0 4 0 0 5 0\n\
                    259 0 nvme0n1 1 0 2 0 3 0 4 0 0 5 0\n259 9 nvme0n10 1 0 2 0 3 0 4 0 0 5 0\n";
        let sys = tempfile::tempdir().unwrap();
        for dm in ["dm-1", "dm-10"] {
            std::fs::create_dir_all(sys.path().join(format!("class/block/{dm}/slaves/sda"))).unwrap();
        }
        std::fs::create_dir_all(sys.path().join("class/block/sdaa/slaves")).unwrap();
        let d = whole_disks(parse_diskstats(text), sys.path());
        let kept: Vec<(&str, bool)> = d.iter().map(|d| (d.name.as_str(), d.stacked)).collect();
        assert_eq!(
            kept,
            [("sda", false), ("sdaa", false), ("dm-1", true), ("dm-10", true), ("nvme0n1", false), ("nvme0n10", false)]
        );
    }

    #[test]
    fn links_are_physical_when_backed_by_a_device() {
        let sys = tempfile::tempdir().unwrap();
        let net = sys.path().join("class/net");
        std::fs::create_dir_all(net.join("eth0/device")).unwrap();
        std::fs::write(net.join("eth0/speed"), "1000\n").unwrap();
        std::fs::create_dir_all(net.join("docker0")).unwrap();
        std::fs::write(net.join("docker0/speed"), "10000\n").unwrap();
        std::fs::create_dir_all(net.join("wlan0/device")).unwrap();
        std::fs::write(net.join("wlan0/speed"), "-1\n").unwrap();
        let nic = |name: &str| NetCounters { name: name.into(), rx_bytes: 0, tx_bytes: 0 };
        let l = links(&[nic("eth0"), nic("docker0"), nic("wlan0")], sys.path());
        assert_eq!(l["eth0"], Link { physical: true, speed_bytes_per_sec: Some(125e6) });
        assert_eq!(l["docker0"], Link { physical: false, speed_bytes_per_sec: Some(1.25e9) });
        assert_eq!(l["wlan0"], Link { physical: true, speed_bytes_per_sec: None });
    }

    #[test]
    fn a_process_cpu_limit_is_the_tighter_of_affinity_and_cgroup_quota() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), Some(7));
        assert_eq!((parse_cpu_list(""), parse_cpu_list("3-1")), (None, None));
        assert_eq!((parse_cpu_max("max 100000\n"), parse_cpu_max("150000 100000")), (None, Some(1.5)));
        let (proc, sys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let pid = proc.path().join("42");
        std::fs::create_dir_all(&pid).unwrap();
        std::fs::write(pid.join("status"), "Name:\tx\nCpus_allowed_list:\t0-7\n").unwrap();
        assert_eq!(cpu_limit(proc.path(), sys.path(), Some(42)), Some(8.0), "affinity alone");
        std::fs::write(pid.join("cgroup"), "0::/bench.slice/run.scope\n").unwrap();
        let cg = sys.path().join("fs/cgroup/bench.slice");
        std::fs::create_dir_all(cg.join("run.scope")).unwrap();
        std::fs::write(cg.join("run.scope/cpu.max"), "max 100000\n").unwrap();
        std::fs::write(cg.join("cpu.max"), "50000 100000\n").unwrap();
        assert_eq!(cpu_limit(proc.path(), sys.path(), Some(42)), Some(0.5), "a parent's quota binds");
        assert_eq!(cpu_limit(proc.path(), sys.path(), Some(7)), None, "no such process");
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
        assert!(cpu_limit(Path::new("/proc"), Path::new("/sys"), None).is_some_and(|c| c > 0.0));
    }
}
