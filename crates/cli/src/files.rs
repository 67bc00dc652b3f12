//! Reading log files from disk, shared by `import` and `hunt`: finding files under folders,
//! telling EVTX, JSON/NDJSON and plain log lines apart, and decoding each into `Record`s.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use event::{Record, Timestamp};

/// Per-file counts of what was decoded.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileCounts {
    /// Records decoded (a plain line that no format recognizes still becomes a `raw` record).
    pub read: u64,
    /// Records, chunks or lines that could not be decoded at all.
    pub failed: u64,
}

/// Every regular file under `paths` (folders searched recursively), in path order within
/// each folder.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        let meta =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("listing {}", path.display()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect();
            entries.sort();
            entries.reverse();
            stack.extend(entries);
        } else if meta.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Evtx,
    Json,
    Lines,
}

/// EVTX by its magic; JSON by extension (`.json`, `.ndjson`, `.jsonl`) or a leading `{`;
/// plain lines otherwise.
pub fn sniff(path: &Path) -> anyhow::Result<Kind> {
    let mut head = [0u8; 8];
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = file.read(&mut head)?;
    if head[..n].starts_with(b"ElfFile") {
        return Ok(Kind::Evtx);
    }
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(extension.as_str(), "json" | "ndjson" | "jsonl")
        || head[..n].trim_ascii_start().starts_with(b"{")
    {
        return Ok(Kind::Json);
    }
    Ok(Kind::Lines)
}

/// Longest line read from a file; the rest of a longer line is skipped, so a file
/// without newlines cannot exhaust memory.
const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// Reads the next line (without its newline) into `buf`. `None` at end of file;
/// `Some(true)` when the line was longer than [`MAX_LINE_BYTES`] and was cut.
fn next_line(
    reader: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(false));
    }
    if (n as u64) < MAX_LINE_BYTES {
        return Ok(Some(false)); // last line of the file, without newline
    }
    // Skip the rest of the over-long line.
    let mut skipped = Vec::new();
    loop {
        skipped.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() == Some(&b'\n') {
            return Ok(Some(true));
        }
    }
}

/// Decodes every record of one file, in file order, handing each to `each`. Fails when the
/// file cannot be opened or is not what it claims (an EVTX without a valid header, a JSON
/// array that does not parse), or when `each` fails; undecodable records are counted.
pub fn for_each_record(
    path: &Path,
    received_at: Timestamp,
    mut each: impl FnMut(Record) -> anyhow::Result<()>,
) -> anyhow::Result<FileCounts> {
    let mut counts = FileCounts::default();
    match sniff(path)? {
        Kind::Evtx => {
            let mut file = formats::evtx::EvtxFile::open(path)?;
            for record in file.by_ref() {
                match record {
                    Ok(record) => each(record)?,
                    Err(error) => {
                        tracing::debug!(path = %path.display(), %error, "evtx record skipped")
                    }
                }
            }
            counts.read = file.records_read();
            counts.failed = file.records_failed();
        }
        Kind::Json => {
            let reader = BufReader::new(std::fs::File::open(path)?);
            let text_is_array = {
                let mut probe = [0u8; 64];
                let n = std::fs::File::open(path)?.read(&mut probe)?;
                probe[..n].trim_ascii_start().starts_with(b"[")
            };
            if text_is_array {
                // Arrays are read whole: a JSON array file is an export, not a stream.
                let items: Vec<serde_json::Value> = serde_json::from_reader(reader)
                    .with_context(|| format!("{} is not a valid JSON array", path.display()))?;
                for item in items {
                    match item {
                        serde_json::Value::Object(doc) => {
                            let original = serde_json::to_string(&doc).ok();
                            counts.read += 1;
                            each(formats::json::decode(doc, original, received_at))?;
                        }
                        _ => counts.failed += 1,
                    }
                }
            } else if first_line_opens_object(path)? {
                // Pretty-printed JSON (`jq .`, `evtx_dump -o json`): a stream of objects
                // spread over lines. A syntax error ends the stream (it cannot resync).
                for item in
                    serde_json::Deserializer::from_reader(reader).into_iter::<serde_json::Value>()
                {
                    match item {
                        Ok(serde_json::Value::Object(doc)) => {
                            let original = serde_json::to_string(&doc).ok();
                            counts.read += 1;
                            each(formats::json::decode(doc, original, received_at))?;
                        }
                        Ok(_) => counts.failed += 1,
                        Err(error) => {
                            tracing::debug!(path = %path.display(), %error, "JSON stream ends");
                            counts.failed += 1;
                            break;
                        }
                    }
                }
            } else {
                let mut reader = reader;
                let mut line = Vec::new();
                while let Some(cut) = next_line(&mut reader, &mut line)? {
                    if cut {
                        counts.failed += 1;
                        continue;
                    }
                    let line = line.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    match serde_json::from_slice::<event::Map<String, event::Value>>(line) {
                        Ok(doc) => {
                            let original = Some(String::from_utf8_lossy(line).into_owned());
                            counts.read += 1;
                            each(formats::json::decode(doc, original, received_at))?;
                        }
                        Err(_) => counts.failed += 1,
                    }
                }
            }
        }
        Kind::Lines => {
            let mut reader = BufReader::new(std::fs::File::open(path)?);
            let mut bytes = Vec::new();
            while let Some(cut) = next_line(&mut reader, &mut bytes)? {
                // An over-long line is kept cut (its start is what identifies it), and
                // decoders note the invalid UTF-8 a cut may leave at the end.
                let _ = cut;
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches('\r');
                if line.is_empty() {
                    continue;
                }
                counts.read += 1;
                each(formats::decode_line(line, received_at))?;
            }
        }
    }
    Ok(counts)
}

/// Whether the first non-blank line is a lone `{`: pretty-printed JSON, not NDJSON.
fn first_line_opens_object(path: &Path) -> anyhow::Result<bool> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut line = Vec::new();
    while next_line(&mut reader, &mut line)?.is_some() {
        let trimmed = line.trim_ascii();
        if !trimmed.is_empty() {
            return Ok(trimmed == b"{");
        }
    }
    Ok(false)
}
