//! Vectorised, branch-free transcendentals for the flux kernels, with runtime CPU dispatch.
//!
//! [`math`] holds scalar kernels (`exp`, `expm1`, `ln`, `log1p`, `pow`, the Bernoulli function
//! `B(a) = a / expm1(a)`): straight-line polynomial code with selects instead of branches, no FMA
//! and one compile-time table read by exact indexing (`2^(j/128)` for `exp`), written so that
//! a loop over a contiguous slice calling them is turned into SIMD code by the compiler. A cell's bits therefore never depend on where it falls in a
//! vector or on the block size: the vector body and the scalar tail run the same operation
//! sequence, every operation (add, mul, div, sqrt, compare, select, integer bit operations) is
//! correctly rounded or exact in every instruction set, and nothing is contracted into FMA.
//!
//! Row kernels (loops over slices) are compiled three times by [`dispatched!`]: for the x86-64
//! baseline (SSE2), for AVX2 and for AVX-512F, the latter two through the `multiversion` crate,
//! and the best level the CPU supports is chosen at run time. No `target-cpu=native` is needed:
//! the binary runs on any x86-64 node, and because all levels give the same bits, ranks on nodes
//! with different instruction sets still give rank-count-independent results. On other
//! architectures only the baseline exists.
//!
//! [`with_level`] caps the level on the calling thread (the tests compare all levels bit for
//! bit; the benchmark compares their speed).

pub mod math;
pub mod rows;

use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction-set level of the row kernels, ordered from the baseline up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// x86-64 baseline (SSE2), or the plain build on other architectures.
    Baseline,
    /// AVX2 (256-bit vectors).
    Avx2,
    /// AVX-512F (512-bit vectors).
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    /// The best level this CPU supports (detected once).
    pub fn detected() -> Level {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    return Level::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    return Level::Avx2;
                }
            }
            Level::Baseline
        })
    }

    /// The level the row kernels use on this thread: the detected one, capped by
    /// [`with_level`].
    #[inline]
    pub fn active() -> Level {
        let detected = Level::detected();
        CAP.with(|c| c.get().map_or(detected, |cap| cap.min(detected)))
    }

    /// Lower-case name (`baseline`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }
}

thread_local! {
    static CAP: Cell<Option<Level>> = const { Cell::new(None) };
}

/// Runs `f` with the row kernels of this thread capped at `level` (a level above the detected
/// one means the detected one); restores the previous cap afterwards.
pub fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Level>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CAP.with(|c| c.replace(Some(level))));
    f()
}

/// Defines a row kernel compiled for every [`Level`] and dispatched on [`Level::active`]:
///
/// ```ignore
/// dispatched! {
///     /// Doc.
///     pub fn name(a: &[f64], out: &mut [f64]) { for (o, &x) in out.iter_mut().zip(a) { *o = math::exp(x) } }
/// }
/// ```
///
/// The body and everything it calls must be `#[inline(always)]` (so that it is compiled with
/// the clone's instruction set) and must not name `self`.
macro_rules! dispatched {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn kernel($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[multiversion::multiversion(targets("x86_64+avx+avx2"))]
            #[allow(clippy::too_many_arguments)]
            fn avx2($($arg: $ty),*) {
                kernel($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[multiversion::multiversion(targets("x86_64+avx+avx2+avx512f"))]
            #[allow(clippy::too_many_arguments)]
            fn avx512($($arg: $ty),*) {
                kernel($($arg),*)
            }
            match $crate::simd::Level::active() {
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx512 => avx512($($arg),*),
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx2 => avx2($($arg),*),
                _ => kernel($($arg),*),
            }
        }
    };
}
pub(crate) use dispatched;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_level_caps_and_restores() {
        let top = Level::active();
        with_level(Level::Baseline, || {
            assert_eq!(Level::active(), Level::Baseline);
            with_level(Level::Avx512, || {
                assert_eq!(Level::active(), Level::detected())
            });
            assert_eq!(Level::active(), Level::Baseline);
        });
        assert_eq!(Level::active(), top);
    }
}
