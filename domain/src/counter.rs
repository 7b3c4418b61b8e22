//! PLC counters: monotonic readings turned into production deltas (docs/oee.md, "PLC counters").
//! A negative delta is never trusted: a smaller reading is either a rollover of the counter's width
//! or a reset of the counter to zero.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CounterWidth {
    Bits16,
    Bits32,
    Bits64,
}

impl CounterWidth {
    fn modulus(self) -> u128 {
        match self {
            Self::Bits16 => 1 << 16,
            Self::Bits32 => 1 << 32,
            Self::Bits64 => 1 << 64,
        }
    }
    /// The largest value a counter of this width can show.
    pub fn max_value(self) -> u64 {
        u64::try_from(self.modulus() - 1).unwrap_or(u64::MAX)
    }
}

/// How one reading relates to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CounterStep {
    /// The counter went up (or stayed): the difference was produced.
    Advanced,
    /// The counter wrapped past its maximum: the wrapped difference was produced.
    RolledOver,
    /// The counter restarted from zero (power cycle, manual reset): what it shows now was produced since;
    /// what was produced between the last reading and the reset is unknown and not invented.
    Reset,
}

/// The units produced between two readings, and how that was concluded. A fall from the upper half of the
/// range into the lower half is a rollover; any other fall is a reset.
pub fn counter_delta(previous: u64, current: u64, width: CounterWidth) -> (u64, CounterStep) {
    if current >= previous {
        return (current - previous, CounterStep::Advanced);
    }
    let modulus = width.modulus();
    let half = modulus / 2;
    if u128::from(previous) >= half && u128::from(current) < half {
        let wrapped = modulus - u128::from(previous) + u128::from(current);
        return (u64::try_from(wrapped).unwrap_or(u64::MAX), CounterStep::RolledOver);
    }
    (current, CounterStep::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advancing_counter_gives_the_difference() {
        assert_eq!(counter_delta(100, 130, CounterWidth::Bits16), (30, CounterStep::Advanced));
        assert_eq!(counter_delta(130, 130, CounterWidth::Bits16), (0, CounterStep::Advanced));
    }

    #[test]
    fn a_16_bit_counter_rolls_over_past_65535() {
        assert_eq!(counter_delta(65_530, 4, CounterWidth::Bits16), (10, CounterStep::RolledOver));
    }

    #[test]
    fn a_32_bit_counter_rolls_over_past_its_maximum() {
        let max = CounterWidth::Bits32.max_value();
        assert_eq!(counter_delta(max, 0, CounterWidth::Bits32), (1, CounterStep::RolledOver));
    }

    #[test]
    fn a_fall_from_the_lower_half_is_a_reset_and_counts_only_what_follows_it() {
        assert_eq!(counter_delta(20_000, 15, CounterWidth::Bits16), (15, CounterStep::Reset));
        assert_eq!(counter_delta(40_000, 39_000, CounterWidth::Bits16), (39_000, CounterStep::Reset));
    }
}
