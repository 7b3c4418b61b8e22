//! OEE arithmetic (docs/oee.md): exact figures from integer inputs, roll-ups, the interval operations that
//! attribute stops to windows, and shift occurrences in site-local time. Pure: the read side feeds it
//! events and configuration, and it reads no clock.

pub mod figures;
pub mod hour_by_hour;
pub mod interval;
pub mod loss_tree;
pub mod occurrences;
pub mod window;

pub use figures::{OeeFigures, OeeInputs, Ratio, roll_up};
pub use hour_by_hour::{HourFacts, HourRow, MainReason, hour_by_hour};
pub use interval::{Interval, merge, subtract, total_ms};
pub use loss_tree::{LossFacts, LossPart, LossTree};
pub use occurrences::{ShiftOccurrence, local_hours, local_instant, occurrences, scheduled};
pub use window::{CountSums, StopFact, WindowOee, roll_up_windows, window_oee};
