//! Order-independent checksums of global-shaped datasets.
//!
//! The checksum of a dataset is the wrapping sum over all elements of
//! `mix(mix(global_index) ^ bits(value))` (`mix` = splitmix64). Every rank hashes the elements
//! it owns, whatever the decomposition, and the parts are combined with an exact integer SUM, so a
//! file written on 4 ranks verifies on 3 or on 1, and a serial reader (`nlfp info`) computes the
//! same number over the flat global array.

use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;

use crate::random::mix;

/// Hash of one element at a global index.
fn element_hash(index: u64, value: f64) -> u64 {
    mix(mix(index) ^ value.to_bits())
}

/// Wrapping sum of element hashes of a replicated 1D array.
pub fn checksum_values(values: &[f64]) -> u64 {
    values.iter().enumerate().fold(0u64, |acc, (i, &v)| {
        acc.wrapping_add(element_hash(i as u64, v))
    })
}

/// This rank's part of the checksum of a global-shaped field (global row-major indices).
pub fn block_checksum_part(mesh: &Mesh, block: &Block, f: &Field) -> u64 {
    let owned = f.interior3();
    let mut acc = 0u64;
    for k in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                let row = (block.z0 + k) * mesh.ny() + block.y0 + j;
                let index = (row * mesh.nx() + block.x0 + i) as u64;
                acc = acc.wrapping_add(element_hash(index, owned[[k, j, i]]));
            }
        }
    }
    acc
}

/// The checksum of a global field from every rank's block (collective).
pub fn field_checksum(comm: &Comm, mesh: &Mesh, block: &Block, f: &Field) -> u64 {
    comm.sum_u64_wrapping(&[block_checksum_part(mesh, block, f)])[0]
}

/// A checksum as stored in the files' attributes (16 hex digits).
pub fn hex(v: u64) -> String {
    format!("{v:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_a_flipped_bit_and_a_swap() {
        let v = vec![1.0, 2.5, -3.0, 1e-300];
        let base = checksum_values(&v);
        let mut w = v.clone();
        w[2] = f64::from_bits(w[2].to_bits() ^ 1);
        assert_ne!(checksum_values(&w), base);
        let mut s = v.clone();
        s.swap(0, 1);
        assert_ne!(checksum_values(&s), base);
    }
}
