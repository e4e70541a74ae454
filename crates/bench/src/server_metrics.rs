//! Where the server spends a phase's time, from its own `/metrics`: the change in the
//! request and storage latency histograms (sum and count) between two scrapes.

use std::collections::BTreeMap;

const HISTOGRAMS: [&str; 2] = ["apiserver_request_duration_seconds", "apiserver_storage_operation_duration_seconds"];

/// `metric{labels}` → (sum of seconds, count) of the latency histograms.
#[derive(Default)]
pub struct Snapshot(BTreeMap<String, (f64, f64)>);

impl Snapshot {
    pub fn parse(text: &str) -> Snapshot {
        let mut out: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = series.split_once('{').map_or((series, ""), |(n, l)| (n, l.trim_end_matches('}')));
            for metric in HISTOGRAMS {
                let short = if metric.contains("storage") { "storage" } else { "request" };
                let key = format!("{short} {}", labels.replace('"', ""));
                if name == format!("{metric}_sum") {
                    out.entry(key).or_default().0 = value;
                } else if name == format!("{metric}_count") {
                    out.entry(key).or_default().1 = value;
                }
            }
        }
        Snapshot(out)
    }

    /// Series that moved since `before`: (series, count, mean milliseconds), busiest first.
    pub fn since(&self, before: &Snapshot) -> Vec<(String, u64, f64)> {
        let mut moved: Vec<(String, u64, f64)> = self
            .0
            .iter()
            .filter_map(|(key, (sum, count))| {
                let (sum0, count0) = before.0.get(key).copied().unwrap_or_default();
                let n = count - count0;
                (n >= 1.0).then(|| (key.clone(), n as u64, (sum - sum0) / n * 1000.0))
            })
            .collect();
        moved.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP apiserver_request_duration_seconds x
apiserver_request_duration_seconds_sum{verb="GET",resource="configmaps"} 1.0
apiserver_request_duration_seconds_count{verb="GET",resource="configmaps"} 100
apiserver_request_duration_seconds_bucket{verb="GET",resource="configmaps",le="0.005"} 100
apiserver_storage_operation_duration_seconds_sum{operation="get"} 0.5
apiserver_storage_operation_duration_seconds_count{operation="get"} 100
"#;

    #[test]
    fn reports_the_mean_of_what_changed() {
        let after = BEFORE.replace("} 1.0", "} 3.0").replace("configmaps\"} 100", "configmaps\"} 1100");
        let moved = Snapshot::parse(&after).since(&Snapshot::parse(BEFORE));
        assert_eq!(moved.len(), 1, "storage did not move: {moved:?}");
        let (series, count, mean_ms) = &moved[0];
        assert_eq!((series.as_str(), *count), ("request verb=GET,resource=configmaps", 1000));
        assert!((mean_ms - 2.0).abs() < 1e-9);
    }
}
