//! `sentinella import PATH...`: EVTX, JSON/NDJSON and plain log files and folders.
//!
//! Files are decoded here (EVTX needs the file); the decoded records go to a running
//! server's `/api/v1/ingest/records`, which normalizes and stores them, or, when no
//! server answers, straight into the data directory's store.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use event::{Record, Timestamp};
use indicatif::{ProgressBar, ProgressStyle};
use store::EventStore as _;

use crate::client::{Client, ServerArgs};

/// Records sent or written per batch.
const BATCH_RECORDS: usize = 5_000;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write straight into the data directory's store, without trying a server first
    /// (the server using that data directory must be stopped).
    #[arg(long)]
    pub direct: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

enum Sink {
    Server(Client),
    Direct {
        store: store::EmbeddedStore,
        normalizer: Arc<normalize::Normalizer>,
    },
}

impl Sink {
    fn write(&self, records: Vec<Record>) -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Server(client) => {
                let mut body = Vec::new();
                for record in &records {
                    serde_json::to_writer(&mut body, record)?;
                    body.push(b'\n');
                }
                client.post("/api/v1/ingest/records", "application/x-ndjson", &body)?;
            }
            Sink::Direct { store, normalizer } => {
                let received_at = Timestamp::now();
                let context = normalize::Context {
                    input_type: "import",
                    peer: None,
                    received_at,
                };
                let events = records
                    .into_iter()
                    .map(|record| normalizer.normalize(record, &context))
                    .collect();
                store.append(events)?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct FileCounts {
    read: u64,
    failed: u64,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let files = collect_files(&args.paths)?;
    if files.is_empty() {
        bail!("no files found under the given paths");
    }
    let sink = if !args.direct && Client::is_up(&args.server.server) {
        eprintln!("importing into the server at {}", args.server.server);
        Sink::Server(Client::new(&args.server)?)
    } else {
        let store_dir = args.server.data_dir.join("store");
        eprintln!("importing directly into {}", store_dir.display());
        let store = store::EmbeddedStore::open(store::StoreConfig::new(store_dir)).context(
            "opening the store (is a server running on this data dir? then omit --direct)",
        )?;
        Sink::Direct {
            store,
            normalizer: Arc::new(normalize::Normalizer::builtin()),
        }
    };

    let total_bytes: u64 = files
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let progress = ProgressBar::new(total_bytes).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .expect("the template is valid"),
    );
    let mut totals = FileCounts::default();
    let mut n_failed_files = 0;
    for path in &files {
        progress.set_message(
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        match import_file(path, &sink) {
            Ok(counts) => {
                progress.println(format!(
                    "{}: {} records, {} unreadable",
                    path.display(),
                    counts.read,
                    counts.failed
                ));
                totals.read += counts.read;
                totals.failed += counts.failed;
            }
            Err(error) => {
                n_failed_files += 1;
                progress.println(format!("{}: not imported: {error:#}", path.display()));
            }
        }
        progress.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    }
    progress.finish_and_clear();
    if let Sink::Direct { store, .. } = &sink {
        store.refresh()?;
    }
    println!(
        "imported {} records from {} files ({} records unreadable, {} files failed)",
        totals.read,
        files.len() - n_failed_files,
        totals.failed,
        n_failed_files
    );
    if n_failed_files == files.len() {
        bail!("no file could be imported");
    }
    Ok(())
}

fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
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

enum Kind {
    Evtx,
    Json,
    Lines,
}

fn sniff(path: &Path) -> anyhow::Result<Kind> {
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

fn import_file(path: &Path, sink: &Sink) -> anyhow::Result<FileCounts> {
    let mut counts = FileCounts::default();
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let received_at = Timestamp::now();
    let flush = |batch: &mut Vec<Record>| sink.write(std::mem::take(batch));
    match sniff(path)? {
        Kind::Evtx => {
            let mut file = formats::evtx::EvtxFile::open(path)?;
            for record in file.by_ref() {
                match record {
                    Ok(record) => batch.push(record),
                    Err(error) => {
                        tracing::debug!(path = %path.display(), %error, "evtx record skipped")
                    }
                }
                if batch.len() >= BATCH_RECORDS {
                    flush(&mut batch)?;
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
                            batch.push(formats::json::decode(doc, original, received_at));
                            counts.read += 1;
                        }
                        _ => counts.failed += 1,
                    }
                    if batch.len() >= BATCH_RECORDS {
                        flush(&mut batch)?;
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
                            batch.push(formats::json::decode(doc, original, received_at));
                            counts.read += 1;
                        }
                        Err(_) => counts.failed += 1,
                    }
                    if batch.len() >= BATCH_RECORDS {
                        flush(&mut batch)?;
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
                batch.push(formats::decode_line(line, received_at));
                counts.read += 1;
                if batch.len() >= BATCH_RECORDS {
                    flush(&mut batch)?;
                }
            }
        }
    }
    flush(&mut batch)?;
    Ok(counts)
}
