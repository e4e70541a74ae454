//! `/containerLogs/{namespace}/{pod}/{container}`: a container's log file (CRI format,
//! `<RFC3339Nano time> <stream> <F|P> <text>`, in upstream's layout) as plain text, with
//! `kubectl logs`'s options: `tailLines`, `sinceSeconds`/`sinceTime`, `timestamps`,
//! `limitBytes`, `previous` (the instance before the current one) and `follow` (keep
//! sending until the container stops).

use crate::pods::Context;
use crate::pods::runtime_pod::{ContainerInstance, runtime_pod};
use bytes::Bytes;
use jiff::Timestamp;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// `kubectl logs`'s options, from the query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub limit_bytes: Option<usize>,
    pub since: Option<Timestamp>,
}

impl LogOptions {
    /// Parse the query string of a `/containerLogs` request.
    pub fn parse(query: &str) -> Result<LogOptions, String> {
        let mut options = LogOptions::default();
        for (key, value) in form_pairs(query) {
            let flag = || value == "true" || value == "1";
            let number = |what: &str| value.parse::<i64>().map_err(|_| format!("invalid {what}: {value:?}"));
            match key.as_str() {
                "follow" => options.follow = flag(),
                "previous" => options.previous = flag(),
                "timestamps" => options.timestamps = flag(),
                "tailLines" => options.tail_lines = Some(number("tailLines")?.max(0) as usize),
                "limitBytes" => options.limit_bytes = Some(number("limitBytes")?.max(1) as usize),
                "sinceSeconds" => {
                    let seconds = number("sinceSeconds")?.max(1);
                    options.since = Some(Timestamp::now() - jiff::SignedDuration::from_secs(seconds));
                }
                "sinceTime" => {
                    options.since = Some(value.parse().map_err(|_| format!("invalid sinceTime: {value:?}"))?)
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// One line of a CRI log file.
#[derive(Debug, PartialEq)]
pub struct LogLine<'a> {
    pub time: &'a str,
    pub stream: &'a str,
    /// False for a partial line (`P`): the text continues on the next line of the file.
    pub full: bool,
    pub text: &'a str,
}

/// Parse one line of a CRI log file (without its newline).
pub fn parse_line(line: &str) -> Option<LogLine<'_>> {
    let mut parts = line.splitn(4, ' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or_default();
    Some(LogLine { time, stream, full: !tag.starts_with('P'), text })
}

/// What one CRI line contributes to the output.
fn render(line: &LogLine<'_>, timestamps: bool) -> String {
    let mut out = String::new();
    if timestamps {
        out.push_str(line.time);
        out.push(' ');
    }
    out.push_str(line.text);
    if line.full {
        out.push('\n');
    }
    out
}

fn since_ok(line: &LogLine<'_>, since: Option<Timestamp>) -> bool {
    since.is_none_or(|since| line.time.parse::<Timestamp>().is_ok_and(|t| t >= since))
}

/// The instance whose log to read, or why there is none (upstream's messages).
pub async fn instance(
    context: &Context,
    uid: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<ContainerInstance, String> {
    let runtime = runtime_pod(&context.cri, uid).await.map_err(|e| e.to_string())?;
    let found = if previous { runtime.previous(container) } else { runtime.latest_anywhere(container) };
    found.cloned().ok_or_else(|| {
        if previous {
            format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")
        } else {
            format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating")
        }
    })
}

/// Stream the log of `instance` (in `log_dir`) with `options` into a channel.
pub fn stream(
    context: Arc<Context>,
    log_dir: PathBuf,
    instance: ContainerInstance,
    options: LogOptions,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        let path = log_dir.join(&instance.name).join(format!("{}.log", instance.attempt));
        if let Err(error) = send_log(&context, &path, &instance, &options, &sender).await {
            let _ = sender.send(Err(error)).await;
        }
    });
    receiver
}

async fn send_log(
    context: &Context,
    path: &std::path::Path,
    instance: &ContainerInstance,
    options: &LogOptions,
    sender: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::new(file);
    let mut budget = options.limit_bytes.unwrap_or(usize::MAX);
    let mut send = async |text: String| -> bool {
        if budget == 0 {
            return false;
        }
        let mut bytes = text.into_bytes();
        bytes.truncate(budget);
        budget -= bytes.len();
        sender.send(Ok(Bytes::from(bytes))).await.is_ok() && budget > 0
    };
    // What is in the file now: the last `tailLines` full lines that pass `since`.
    let mut lines: VecDeque<String> = VecDeque::new();
    let mut raw = String::new();
    let mut pending = String::new();
    while reader.read_line(&mut raw)? > 0 {
        if !raw.ends_with('\n') {
            // A line being written: read it again once it is complete.
            let back = raw.len() as i64;
            reader.seek(SeekFrom::Current(-back))?;
            raw.clear();
            break;
        }
        if let Some(line) = parse_line(raw.trim_end_matches('\n')).filter(|l| since_ok(l, options.since)) {
            pending.push_str(&render(&line, options.timestamps));
            if line.full {
                lines.push_back(std::mem::take(&mut pending));
                if options.tail_lines.is_some_and(|tail| lines.len() > tail) {
                    lines.pop_front();
                }
            }
        }
        raw.clear();
    }
    if options.tail_lines == Some(0) {
        lines.clear();
    }
    for line in lines {
        if !send(line).await {
            return Ok(());
        }
    }
    if !options.follow {
        return Ok(());
    }
    let mut checked = std::time::Instant::now();
    loop {
        let read = reader.read_line(&mut raw)?;
        if read > 0 && raw.ends_with('\n') {
            if let Some(line) = parse_line(raw.trim_end_matches('\n'))
                && !send(render(&line, options.timestamps)).await
            {
                return Ok(());
            }
            raw.clear();
            continue;
        }
        if read > 0 {
            let back = raw.len() as i64;
            reader.seek(SeekFrom::Current(-back))?;
            raw.clear();
        }
        if sender.is_closed() {
            return Ok(());
        }
        if checked.elapsed() > Duration::from_secs(1) {
            checked = std::time::Instant::now();
            if !still_running(context, instance).await {
                // One more read for what it wrote last.
                while reader.read_line(&mut raw)? > 0 {
                    if let Some(line) = parse_line(raw.trim_end_matches('\n'))
                        && !send(render(&line, options.timestamps)).await
                    {
                        return Ok(());
                    }
                    raw.clear();
                }
                return Ok(());
            }
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

async fn still_running(context: &Context, instance: &ContainerInstance) -> bool {
    let request = k8s_cri::v1::ContainerStatusRequest { container_id: instance.id.clone(), verbose: false };
    match context.cri.runtime().container_status(request).await {
        Ok(status) => {
            status.into_inner().status.is_some_and(|s| s.state == crate::pods::runtime_pod::CONTAINER_RUNNING)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines_parse_and_render_with_or_without_timestamps() {
        let line = parse_line("2026-12-05T20:55:30.123456789Z stdout F hello world").unwrap();
        assert_eq!(
            line,
            LogLine { time: "2026-12-05T20:55:30.123456789Z", stream: "stdout", full: true, text: "hello world" }
        );
        assert_eq!(render(&line, false), "hello world\n");
        assert_eq!(render(&line, true), "2026-12-05T20:55:30.123456789Z hello world\n");
        let partial = parse_line("2026-12-05T20:55:30.1Z stderr P part").unwrap();
        assert_eq!(render(&partial, false), "part");
        assert_eq!(parse_line("2026-12-05T20:55:30.1Z stdout F ").unwrap().text, "");
    }

    #[test]
    fn options_come_from_the_query() {
        let options =
            LogOptions::parse("follow=true&tailLines=3&timestamps=true&limitBytes=10&previous=false").unwrap();
        assert!(options.follow && options.timestamps && !options.previous);
        assert_eq!((options.tail_lines, options.limit_bytes), (Some(3), Some(10)));
        let since = LogOptions::parse("sinceTime=2026-12-05T20%3A55%3A30Z").unwrap().since.unwrap();
        assert_eq!(since.to_string(), "2026-12-05T20:55:30Z");
        assert!(LogOptions::parse("tailLines=x").is_err());
    }
}
