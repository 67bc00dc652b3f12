//! [`DetectorSlot`]: how a rebuilt detector reaches the live one without a lock on the
//! hot path.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Detector;

/// Holds at most one detector waiting to replace the live one. Whoever rebuilds rules
/// (reload, enable/disable) calls [`DetectorSlot::offer`]; the live detector takes it
/// between batches (one atomic load per batch when nothing is offered). A newer offer
/// replaces an older one that was not taken yet.
#[derive(Default)]
pub struct DetectorSlot {
    offered: AtomicBool,
    pending: Mutex<Option<Detector>>,
    /// Offers taken so far (for status and tests).
    generation: std::sync::atomic::AtomicU64,
}

impl DetectorSlot {
    /// Offers `detector` to the live detector following this slot.
    pub fn offer(&self, detector: Detector) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending = Some(detector);
        self.offered.store(true, Ordering::Release);
    }

    /// How many offers the live detector has taken.
    pub fn taken(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn take(&self) -> Option<Detector> {
        if !self.offered.swap(false, Ordering::AcqRel) {
            return None;
        }
        let taken = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if taken.is_some() {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        taken
    }
}
