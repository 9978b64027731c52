//! Refuse work that cannot fit before allocating it (issue 17, item 1).
//!
//! The need is the largest rank's block storage ([`crate::time::block_memory_bytes`]) times
//! the ranks sharing a node (`OMPI_COMM_WORLD_LOCAL_SIZE`, `MPI_LOCALNRANKS`,
//! `SLURM_NTASKS_PER_NODE`, else all ranks of the job: the safe side). The limit is what the
//! node can give: the smaller of `MemAvailable` in `/proc/meminfo` and the cgroup's limit less
//! its usage (v2 `memory.max` / `memory.current`, v1 `memory.limit_in_bytes` /
//! `memory.usage_in_bytes`). A node that cannot be asked is not refused.

use std::path::Path;

use crate::io::space::bytes;

/// Bytes this node can still give, and where the number comes from.
pub fn available_on_node() -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    let mut offer = |b: u64, what: String| {
        if best.as_ref().is_none_or(|(x, _)| b < *x) {
            best = Some((b, what));
        }
    };
    if let Some(kib) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_available_kib(&t))
    {
        offer(
            kib.saturating_mul(1024),
            "MemAvailable in /proc/meminfo".into(),
        );
    }
    let cgroups = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ];
    for (limit, usage) in cgroups {
        let read = |p: &str| -> Option<u64> {
            std::fs::read_to_string(Path::new(p))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        if let Some(l) = read(limit) {
            let used = read(usage).unwrap_or(0);
            offer(
                l.saturating_sub(used),
                format!("the cgroup limit {limit} less its usage"),
            );
        }
    }
    best
}

/// `MemAvailable` (KiB) from the text of `/proc/meminfo`.
fn mem_available_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Ranks of this job on this node (the launcher's count; all `ranks` when it says nothing).
pub fn ranks_on_node(ranks: usize) -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.trim().parse::<usize>().ok())
    .filter(|&k| k >= 1)
    .unwrap_or(ranks)
    .min(ranks.max(1))
}

/// `Err` with both numbers when `per_rank` bytes on each of `local` ranks exceed `available`.
pub fn check_fits(
    per_rank: u64,
    local: usize,
    available: Option<(u64, String)>,
) -> Result<(), String> {
    let need = per_rank.saturating_mul(local as u64);
    match available {
        Some((limit, source)) if need > limit => Err(format!(
            "the grid does not fit in memory: about {} per node ({} on the largest rank x {local} \
             rank(s) on the node) but {} are available ({source}); use a smaller grid.n or \
             more nodes",
            bytes(need),
            bytes(per_rank),
            bytes(limit)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_kib() {
        let text = "MemTotal:       16000000 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(mem_available_kib(text), Some(8_000_000));
        assert_eq!(mem_available_kib("MemTotal: 3 kB\n"), None);
    }

    #[test]
    fn a_grid_larger_than_the_node_is_refused_with_both_numbers() {
        let gib = 1u64 << 30;
        assert!(check_fits(gib, 2, Some((3 * gib, "test".into()))).is_ok());
        let e = check_fits(2 * gib, 2, Some((3 * gib, "test".into()))).unwrap_err();
        assert!(
            e.contains("4.00 GiB per node") && e.contains("3.00 GiB are available (test)"),
            "{e}"
        );
        assert!(check_fits(u64::MAX, 4, None).is_ok());
        assert!(available_on_node().is_some_and(|(b, _)| b > 0));
    }
}
