//! RFC 6587 framing of syslog over a byte stream, sans-IO.
//!
//! The decoder is fed a growing buffer and takes complete frames off its front. Each frame
//! is framed one of two ways, decided by its first byte (RFC 6587 §3.4):
//! - octet counting (§3.4.1), `MSG-LEN SP SYSLOG-MSG`, when it starts with a digit;
//! - non-transparent framing (§3.4.2), the message followed by a delimiter, otherwise.
//!   LF is the delimiter; a CR before it is removed, and NUL also ends a frame.
//!
//! Memory stays bounded by `max_frame_bytes` plus one read: a frame found to be too long
//! is dropped while it streams past (up to the next delimiter, or the announced length),
//! never buffered whole.

use bytes::{Buf, BytesMut};

use crate::metrics::DropReason;

/// Octet counts longer than this many digits cannot be valid lengths. 10 digits cover
/// every `u32`; anything longer is taken as the start of a newline-framed message.
const MAX_LEN_DIGITS: usize = 10;

/// What the decoder found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// One message, without its framing.
    Frame(Vec<u8>),
    /// One message was dropped.
    Dropped(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Start,
    /// Inside a newline-framed message; bytes before `scanned` hold no delimiter.
    Line { scanned: usize },
    /// Skipping the rest of a newline-framed message that was too long.
    DiscardLine,
    /// Inside an octet-counted message of this many bytes (header already consumed).
    Counted { len: usize },
    /// Skipping this many more bytes of an octet-counted message that was too long.
    DiscardCounted { remaining: usize },
}

/// Cuts frames off a byte stream; see the module documentation.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    max_frame_bytes: usize,
    state: State,
}

impl FrameDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> FrameDecoder {
        FrameDecoder {
            max_frame_bytes,
            state: State::Start,
        }
    }

    /// Takes the next complete frame (or drop) off the front of `buf`, or `None` when more
    /// bytes are needed. Call again until it returns `None`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Option<Decoded> {
        loop {
            match self.state {
                State::Start => {
                    // Delimiters between frames: the LF some senders put after an
                    // octet-counted frame, or blank lines.
                    let n_skip = buf
                        .iter()
                        .position(|&byte| !is_delimiter(byte) && byte != b'\r')
                        .unwrap_or(buf.len());
                    buf.advance(n_skip);
                    if buf.is_empty() {
                        return None;
                    }
                    if buf[0].is_ascii_digit() {
                        let n_digits = buf
                            .iter()
                            .take(MAX_LEN_DIGITS + 1)
                            .take_while(|byte| byte.is_ascii_digit())
                            .count();
                        if n_digits == buf.len() && n_digits <= MAX_LEN_DIGITS {
                            return None;
                        }
                        if n_digits <= MAX_LEN_DIGITS && buf[n_digits] == b' ' {
                            let len = parse_len(&buf[..n_digits]);
                            buf.advance(n_digits + 1);
                            if len > self.max_frame_bytes {
                                self.state = State::DiscardCounted { remaining: len };
                                return Some(Decoded::Dropped(DropReason::Oversized));
                            }
                            self.state = State::Counted { len };
                            continue;
                        }
                        // Digits not followed by a space: not an octet count after all.
                    }
                    self.state = State::Line { scanned: 0 };
                }
                State::Line { scanned } => {
                    let Some(offset) = buf[scanned..].iter().position(|&byte| is_delimiter(byte))
                    else {
                        // A CR may still precede the delimiter, hence the one byte of slack.
                        if buf.len() > self.max_frame_bytes + 1 {
                            buf.clear();
                            self.state = State::DiscardLine;
                            return Some(Decoded::Dropped(DropReason::Oversized));
                        }
                        self.state = State::Line { scanned: buf.len() };
                        return None;
                    };
                    let end = scanned + offset;
                    let mut frame = buf.split_to(end + 1);
                    frame.truncate(strip_cr(&frame[..end]));
                    self.state = State::Start;
                    if frame.len() > self.max_frame_bytes {
                        return Some(Decoded::Dropped(DropReason::Oversized));
                    }
                    if !frame.is_empty() {
                        return Some(Decoded::Frame(frame.to_vec()));
                    }
                }
                State::DiscardLine => match buf.iter().position(|&byte| is_delimiter(byte)) {
                    Some(end) => {
                        buf.advance(end + 1);
                        self.state = State::Start;
                    }
                    None => {
                        buf.clear();
                        return None;
                    }
                },
                State::Counted { len } => {
                    if buf.len() < len {
                        return None;
                    }
                    let frame = buf.split_to(len);
                    self.state = State::Start;
                    if !frame.is_empty() {
                        return Some(Decoded::Frame(frame.to_vec()));
                    }
                }
                State::DiscardCounted { remaining } => {
                    let n_skip = remaining.min(buf.len());
                    buf.advance(n_skip);
                    if n_skip < remaining {
                        self.state = State::DiscardCounted {
                            remaining: remaining - n_skip,
                        };
                        return None;
                    }
                    self.state = State::Start;
                }
            }
        }
    }

    /// Like [`FrameDecoder::decode`], after the peer closed the stream: a trailing
    /// newline-framed message without its delimiter is still a message, a truncated
    /// octet-counted one is dropped. Call until it returns `None`.
    pub(crate) fn decode_eof(&mut self, buf: &mut BytesMut) -> Option<Decoded> {
        if let Some(decoded) = self.decode(buf) {
            return Some(decoded);
        }
        match self.state {
            State::Start | State::Line { .. } => {
                self.state = State::Start;
                if buf.is_empty() {
                    return None;
                }
                let mut frame = buf.split();
                frame.truncate(strip_cr(&frame));
                (!frame.is_empty()).then(|| Decoded::Frame(frame.to_vec()))
            }
            State::Counted { .. } => {
                buf.clear();
                self.state = State::Start;
                Some(Decoded::Dropped(DropReason::Truncated))
            }
            // Already counted as oversized.
            State::DiscardLine | State::DiscardCounted { .. } => {
                buf.clear();
                self.state = State::Start;
                None
            }
        }
    }

    /// The stream ended abnormally (error, idle timeout, shutdown): whatever partial frame
    /// is buffered is dropped. Returns whether one was.
    pub(crate) fn abandon(&mut self, buf: &mut BytesMut) -> bool {
        let partial = match self.state {
            State::Start => buf.iter().any(|&byte| !is_delimiter(byte) && byte != b'\r'),
            State::Line { .. } | State::Counted { .. } => true,
            State::DiscardLine | State::DiscardCounted { .. } => false,
        };
        buf.clear();
        self.state = State::Start;
        partial
    }
}

fn is_delimiter(byte: u8) -> bool {
    byte == b'\n' || byte == b'\0'
}

/// Length of `frame` without one trailing CR.
fn strip_cr(frame: &[u8]) -> usize {
    match frame.last() {
        Some(b'\r') => frame.len() - 1,
        _ => frame.len(),
    }
}

/// Parses at most [`MAX_LEN_DIGITS`] ASCII digits; saturates instead of overflowing, so an
/// absurd length is simply "too long".
fn parse_len(digits: &[u8]) -> usize {
    digits.iter().fold(0usize, |len, &digit| {
        len.saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    })
}
