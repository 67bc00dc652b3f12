//! `sentinella import PATH...`: EVTX, JSON/NDJSON and plain log files and folders.
//!
//! Files are decoded here (EVTX needs the file); the decoded records go to a running
//! server's `/api/v1/ingest/records`, which normalizes and stores them, or, when no
//! server answers, straight into the data directory's store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use event::{Record, Timestamp};
use indicatif::{ProgressBar, ProgressStyle};
use store::EventStore as _;

use crate::client::{Client, ServerArgs};
use crate::files::{self, FileCounts};

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

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let files = files::collect_files(&args.paths)?;
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

fn import_file(path: &Path, sink: &Sink) -> anyhow::Result<FileCounts> {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let counts = files::for_each_record(path, Timestamp::now(), |record| {
        batch.push(record);
        if batch.len() >= BATCH_RECORDS {
            sink.write(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    sink.write(batch)?;
    Ok(counts)
}
