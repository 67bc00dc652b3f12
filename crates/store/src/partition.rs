//! One UTC day of events: a tantivy index in `index/YYYY-MM-DD/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tantivy::directory::MmapDirectory;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::StoreError;
use crate::schema::{EventSchema, register_tokenizers};

/// Memory the indexer of one partition may use before it flushes a segment.
const WRITER_MEMORY_BYTES: usize = 48 * 1024 * 1024;

pub(crate) struct Partition {
    pub day: jiff::civil::Date,
    pub dir: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    writer: Option<IndexWriter>,
    /// Highest sequence number committed in this partition (its commit payload).
    pub committed_seq: u64,
    /// Highest sequence number added but not yet committed.
    pending_seq: Option<u64>,
    pub last_write: Instant,
}

impl Partition {
    pub fn open_or_create(
        root: &Path,
        day: jiff::civil::Date,
        schema: &EventSchema,
    ) -> Result<Partition, StoreError> {
        let dir = root.join(day.to_string());
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let directory = MmapDirectory::open(&dir).map_err(|err| StoreError::Io {
            path: dir.clone(),
            source: std::io::Error::other(err.to_string()),
        })?;
        // zstd over 128 KiB blocks: logs repeat themselves (hosts, programs, message
        // templates), and a bigger window finds the repeats. Reading one document decodes
        // one block, which stays well under a millisecond.
        let settings = IndexSettings {
            docstore_compression: Compressor::Zstd(ZstdCompressor {
                compression_level: Some(3),
            }),
            docstore_blocksize: 128 * 1024,
            ..IndexSettings::default()
        };
        let index = Index::builder()
            .schema(schema.schema.clone())
            .settings(settings)
            .open_or_create(directory)?;
        register_tokenizers(&index);
        let committed_seq = index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse().ok())
            .unwrap_or(0);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Partition {
            day,
            dir,
            index,
            reader,
            writer: None,
            committed_seq,
            pending_seq: None,
            last_write: Instant::now(),
        })
    }

    /// Adds a document unless this partition already committed it (WAL replay after a
    /// crash between a partition commit and the checkpoint write).
    pub fn add(&mut self, seq: u64, doc: TantivyDocument) -> Result<bool, StoreError> {
        if seq <= self.committed_seq {
            return Ok(false);
        }
        if self.writer.is_none() {
            // One indexing thread per partition: the machine has few cores and several
            // partitions can be open at once (imports of old logs).
            self.writer = Some(self.index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?);
        }
        let writer = self.writer.as_mut().expect("writer opened just above");
        writer.add_document(doc)?;
        self.pending_seq = Some(self.pending_seq.map_or(seq, |pending| pending.max(seq)));
        self.last_write = Instant::now();
        Ok(true)
    }

    pub fn is_dirty(&self) -> bool {
        self.pending_seq.is_some()
    }

    /// Commits added documents with the highest sequence number as payload, and makes
    /// them visible to searches.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let (Some(writer), Some(pending)) = (self.writer.as_mut(), self.pending_seq) else {
            return Ok(());
        };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&pending.to_string());
        prepared.commit()?;
        self.committed_seq = pending;
        self.pending_seq = None;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops the writer (and its memory) of a partition nobody writes to any more.
    /// Waits for background merges so no thread outlives the partition.
    pub fn close_writer(&mut self) -> Result<(), StoreError> {
        debug_assert!(!self.is_dirty(), "commit before closing the writer");
        if let Some(writer) = self.writer.take() {
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    pub fn has_writer(&self) -> bool {
        self.writer.is_some()
    }

    pub fn size_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}
