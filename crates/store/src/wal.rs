//! Write-ahead log: an event is acknowledged only once its record is here and fsynced.
//!
//! Files are `wal/<first_seq>.wal`, each a sequence of records
//! `len: u32 LE | crc32(seq ‖ payload): u32 LE | seq: u64 LE | payload (JSON event)`.
//! A torn write at the end of the newest file (power loss, `kill -9`) fails its CRC or
//! length check and ends replay of that file; everything before it is intact because
//! it was fsynced before being acknowledged.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Largest payload accepted in one record; larger events are rejected before writing.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
const HEADER_BYTES: usize = 16;

/// The append side of the log.
pub(crate) struct Wal {
    dir: PathBuf,
    file: BufWriter<File>,
    path: PathBuf,
    file_bytes: u64,
    max_file_bytes: u64,
    next_seq: u64,
    /// A write or fsync failed: the current file must not be appended to any more.
    broken: bool,
}

/// One record read back during replay.
pub(crate) struct WalRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
}

impl Wal {
    /// Opens the log directory, starting a fresh file after whatever is there (so a torn
    /// tail of an older file is never appended to). `min_next_seq` comes from the
    /// checkpoint, in case every older file was already removed.
    pub fn open(dir: &Path, min_next_seq: u64, max_file_bytes: u64) -> Result<Wal, StoreError> {
        fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let mut next_seq = min_next_seq;
        for (_, path) in list_files(dir)? {
            for record in WalFileReader::open(&path)? {
                next_seq = next_seq.max(record.seq + 1);
            }
        }
        let (file, path) = create_file(dir, next_seq)?;
        sync_dir(dir)?;
        tracing::debug!(path = %path.display(), next_seq, "wal opened");
        Ok(Wal {
            dir: dir.to_owned(),
            file: BufWriter::with_capacity(1 << 20, file),
            path,
            file_bytes: 0,
            max_file_bytes,
            next_seq,
            broken: false,
        })
    }

    /// Appends payloads, then fsyncs once (group commit). Returns the first sequence
    /// number used; payload `i` got `first + i`.
    pub fn append(&mut self, payloads: &[Vec<u8>]) -> Result<u64, StoreError> {
        if self.broken || self.file_bytes >= self.max_file_bytes {
            self.rotate()?;
            self.broken = false;
        }
        let first = self.next_seq;
        let result = self.write_and_sync(payloads);
        if result.is_err() {
            // The file may now end in a torn record, where replay stops: nothing may be
            // written after it. The next append starts a new file; sequence numbers
            // already handed out are not reused.
            self.broken = true;
        }
        result.map(|()| first)
    }

    fn write_and_sync(&mut self, payloads: &[Vec<u8>]) -> Result<(), StoreError> {
        let path = self.path.clone();
        for payload in payloads {
            let seq = self.next_seq;
            let mut crc = crc32fast::Hasher::new();
            crc.update(&seq.to_le_bytes());
            crc.update(payload);
            let len = u32::try_from(payload.len()).expect("payload size checked by the caller");
            let write = |file: &mut BufWriter<File>| -> std::io::Result<()> {
                file.write_all(&len.to_le_bytes())?;
                file.write_all(&crc.finalize().to_le_bytes())?;
                file.write_all(&seq.to_le_bytes())?;
                file.write_all(payload)
            };
            self.next_seq += 1;
            write(&mut self.file).map_err(StoreError::io(&path))?;
            self.file_bytes += (HEADER_BYTES + payload.len()) as u64;
        }
        self.file.flush().map_err(StoreError::io(&path))?;
        // fdatasync: the data and the file length, which is all replay needs.
        self.file
            .get_ref()
            .sync_data()
            .map_err(StoreError::io(&path))
    }

    fn rotate(&mut self) -> Result<(), StoreError> {
        let (file, path) = create_file(&self.dir, self.next_seq)?;
        sync_dir(&self.dir)?;
        self.file = BufWriter::with_capacity(1 << 20, file);
        self.path = path;
        self.file_bytes = 0;
        Ok(())
    }
}

/// Removes files whose records are all at or below `checkpoint` (already indexed and
/// committed). The newest file is always kept.
pub(crate) fn remove_through(dir: &Path, checkpoint: u64) -> Result<usize, StoreError> {
    let files = list_files(dir)?;
    let mut removed = 0;
    for pair in files.windows(2) {
        let (_, path) = &pair[0];
        let (next_first, _) = pair[1];
        if next_first <= checkpoint + 1 {
            fs::remove_file(path).map_err(StoreError::io(path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// All WAL files, oldest first, with their first sequence numbers.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut files = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(err) => return Err(StoreError::io(dir)(err)),
    };
    for entry in entries {
        let entry = entry.map_err(StoreError::io(dir))?;
        let path = entry.path();
        if path.extension().and_then(|ext| ext.to_str()) != Some("wal") {
            continue;
        }
        if let Some(seq) = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.parse::<u64>().ok())
        {
            files.push((seq, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Total bytes of WAL files.
pub(crate) fn total_bytes(dir: &Path) -> u64 {
    list_files(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|(_, path)| fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum()
}

fn file_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.wal"))
}

fn create_file(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), StoreError> {
    let path = file_path(dir, first_seq);
    // A file with this name can only exist if it holds no valid record (a valid record
    // in it would have moved `next_seq` past its name), so truncating loses nothing and
    // keeps new records from landing after a torn one.
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(StoreError::io(&path))?;
    Ok((file, path))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|dir_file| dir_file.sync_all())
        .map_err(StoreError::io(dir))
}

/// Reads the records of one WAL file, stopping at the first torn or corrupt record.
pub(crate) struct WalFileReader {
    path: PathBuf,
    reader: BufReader<File>,
    done: bool,
}

impl WalFileReader {
    pub fn open(path: &Path) -> Result<WalFileReader, StoreError> {
        let file = File::open(path).map_err(StoreError::io(path))?;
        Ok(WalFileReader {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 20, file),
            done: false,
        })
    }
}

impl Iterator for WalFileReader {
    type Item = WalRecord;

    fn next(&mut self) -> Option<WalRecord> {
        if self.done {
            return None;
        }
        let mut header = [0u8; HEADER_BYTES];
        match read_full(&mut self.reader, &mut header) {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return None;
            }
            Err(()) => {
                tracing::warn!(path = %self.path.display(), "torn wal header ignored");
                self.done = true;
                return None;
            }
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let seq = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        if len > MAX_RECORD_BYTES {
            tracing::warn!(path = %self.path.display(), seq, len, "corrupt wal record length, replay of this file stops");
            self.done = true;
            return None;
        }
        let mut payload = vec![0u8; len];
        if !matches!(read_full(&mut self.reader, &mut payload), Ok(true)) {
            tracing::warn!(path = %self.path.display(), seq, "torn wal record ignored");
            self.done = true;
            return None;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&seq.to_le_bytes());
        hasher.update(&payload);
        if hasher.finalize() != crc {
            tracing::warn!(path = %self.path.display(), seq, "wal record checksum mismatch, replay of this file stops");
            self.done = true;
            return None;
        }
        Some(WalRecord { seq, payload })
    }
}

/// Ok(true): buffer filled; Ok(false): clean end of file before any byte; Err: partial.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<bool, ()> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return if filled == 0 { Ok(false) } else { Err(()) },
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
        }
    }
    Ok(true)
}

/// Reads the checkpoint: every record at or below it is committed in the index.
pub(crate) fn read_checkpoint(dir: &Path) -> Result<u64, StoreError> {
    let path = dir.join("checkpoint");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(err) => Err(StoreError::io(&path)(err)),
    }
}

/// Writes the checkpoint atomically (temporary file, fsync, rename, fsync directory).
pub(crate) fn write_checkpoint(dir: &Path, seq: u64) -> Result<(), StoreError> {
    let tmp = dir.join("checkpoint.tmp");
    let path = dir.join("checkpoint");
    let mut file = File::create(&tmp).map_err(StoreError::io(&tmp))?;
    file.write_all(seq.to_string().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(StoreError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(StoreError::io(&path))?;
    sync_dir(dir)
}
