//! The standard `process_*` metrics of a Linux process, read from `/proc/self` at each
//! scrape: resident memory, CPU seconds, open file descriptors and the limit, start
//! time. Where `/proc` cannot be read (another OS) the families are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks a second of `/proc/<pid>/stat` times: the kernel's USER_HZ, 100 on
/// every Linux architecture the image is built for.
const USER_HZ: f64 = 100.0;

/// What `/proc/self` says about the process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
    pub start_time_seconds: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
}

/// Parses `/proc/self/stat` (CPU ticks and start ticks) with `/proc/self/status`
/// (VmRSS), `/proc/stat` (boot time), the number of open descriptors and
/// `/proc/self/limits`.
pub fn parse(
    stat: &str,
    status: &str,
    system_stat: &str,
    open_fds: u64,
    limits: &str,
) -> Option<ProcessStats> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields 14, 15 (utime, stime) and 22 (starttime), counted from 1 with the pid
    // and comm as 1 and 2: indexes 11, 12 and 19 after the comm.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let cpu_seconds = (ticks(11)? + ticks(12)?) / USER_HZ;
    let resident_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let boot: f64 = system_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok());
    Some(ProcessStats {
        resident_bytes: resident_kib * 1024,
        cpu_seconds,
        start_time_seconds: boot + ticks(19)? / USER_HZ,
        open_fds,
        max_fds,
    })
}

fn read() -> Option<ProcessStats> {
    let text = |path: &str| std::fs::read_to_string(path).ok();
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    parse(
        &text("/proc/self/stat")?,
        &text("/proc/self/status")?,
        &text("/proc/stat")?,
        open_fds,
        &text("/proc/self/limits").unwrap_or_default(),
    )
}

/// Reads `/proc/self` at each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(stats.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                stats.resident_bytes as f64,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                stats.open_fds as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                stats.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        if let Some(max) = stats.max_fds {
            let gauge = ConstGauge::new(max as f64);
            gauge.encode(encoder.encode_descriptor(
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_give_memory_cpu_start_and_descriptors() {
        let stat = "4242 (oc operator (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 12345 100000000 5000 18446744073709551615";
        let status = "Name:\toc-operator\nVmPeak:\t  300000 kB\nVmRSS:\t   54000 kB\nThreads:\t8\n";
        let system = "cpu  1 2 3\nbtime 1700000000\nprocesses 10\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1048576              1048576              files\n";
        let stats = parse(stat, status, system, 17, limits).expect("parsed");
        assert_eq!(stats.resident_bytes, 54000 * 1024);
        assert!((stats.cpu_seconds - 3.0).abs() < 1e-9, "{stats:?}");
        assert!(
            (stats.start_time_seconds - (1_700_000_000.0 + 123.45)).abs() < 1e-6,
            "{stats:?}"
        );
        assert_eq!((stats.open_fds, stats.max_fds), (17, Some(1_048_576)));
        assert_eq!(parse("garbage", status, system, 1, ""), None);
    }

    #[test]
    fn this_process_is_read() {
        let stats = read().expect("/proc/self on Linux");
        assert!(stats.resident_bytes > 0 && stats.open_fds > 0 && stats.start_time_seconds > 1.6e9);
    }
}
