use std::path::PathBuf;

/// Why an EVTX file or record could not be read. Text decoders never fail; they note
/// problems in the record's [`PARSE_ERROR`](crate::PARSE_ERROR) field instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or is not an EVTX file.
    #[error("failed to open evtx file {path}")]
    EvtxOpen {
        /// The file.
        path: PathBuf,
        /// What the evtx parser said.
        #[source]
        source: ::evtx::err::EvtxError,
    },
    /// The bytes do not start with an EVTX file header.
    #[error("invalid evtx data")]
    EvtxHeader(#[source] ::evtx::err::EvtxError),
    /// A chunk (64 KiB, up to a few hundred records) could not be read.
    #[error("failed to read evtx chunk")]
    EvtxChunk(#[source] ::evtx::err::EvtxError),
    /// A chunk's header or records table could not be parsed.
    #[error("failed to parse evtx chunk")]
    EvtxChunkParse(#[source] ::evtx::err::ChunkError),
    /// One record could not be parsed or rendered.
    #[error("failed to parse evtx record")]
    EvtxRecord(#[source] ::evtx::err::EvtxError),
    /// The evtx parser panicked on a chunk; its records are skipped.
    #[error("evtx parser panicked on chunk {chunk_idx}")]
    EvtxPanic {
        /// Index of the chunk among those read.
        chunk_idx: u64,
    },
    /// A record rendered to JSON without the expected `Event.System` element.
    #[error("evtx record {record_id} has no Event.System element")]
    EvtxShape {
        /// The record's id.
        record_id: u64,
    },
}
