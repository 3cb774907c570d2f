//! Matrix products of the packed encoder through the `gemm` crate (the kernels candle uses:
//! AVX-512 where the CPU has it, `x86-v4`), on strided views of plain `f32` slices, without
//! copies: `out = α·out + β·a·b` in place.
//!
//! `gemm::gemm` takes raw pointers and strides. This module is the one place in Baynet that
//! calls `unsafe` code: [`View`] and [`ViewMut`] check, when they are made, that every element
//! their shape and strides reach lies inside their slice, and [`product`] checks that the
//! shapes agree, so the pointers gemm derives are always in bounds. `out` is a unique borrow,
//! so it never aliases `a` or `b`.
#![allow(unsafe_code)]

use gemm::Parallelism;

/// A shape or stride that does not fit the slice (a bug in the caller, reported, not UB).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("matrix product: {0}")]
pub struct ShapeError(String);

/// A strided `rows × columns` shape: element `(i, j)` at `i × row_stride + j × column_stride`.
#[derive(Debug, Clone, Copy)]
struct Layout {
    rows: usize,
    columns: usize,
    row_stride: usize,
    column_stride: usize,
}

impl Layout {
    /// The layout, if every element it reaches lies within `len` elements and its strides fit
    /// `isize` (what gemm takes).
    fn fitting(
        len: usize,
        rows: usize,
        columns: usize,
        row_stride: usize,
        column_stride: usize,
    ) -> Result<Self, ShapeError> {
        let layout = Self {
            rows,
            columns,
            row_stride,
            column_stride,
        };
        if rows == 0 || columns == 0 {
            return Ok(layout);
        }
        let last = (rows - 1).checked_mul(row_stride).and_then(|r| {
            (columns - 1)
                .checked_mul(column_stride)
                .and_then(|c| r.checked_add(c))
        });
        let strides_fit =
            isize::try_from(row_stride).is_ok() && isize::try_from(column_stride).is_ok();
        match last {
            Some(last) if last < len && strides_fit => Ok(layout),
            _ => Err(ShapeError(format!(
                "a {rows}×{columns} view with strides ({row_stride}, {column_stride}) does not fit {len} elements"
            ))),
        }
    }
}

/// A read-only strided matrix over a slice.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    layout: Layout,
}

impl<'a> View<'a> {
    /// A row-major contiguous `rows × columns` matrix.
    ///
    /// # Errors
    /// When the slice is shorter than the shape.
    pub fn row_major(data: &'a [f32], rows: usize, columns: usize) -> Result<Self, ShapeError> {
        Self::strided(data, rows, columns, columns, 1)
    }

    /// A matrix whose element `(i, j)` is `data[i × row_stride + j × column_stride]`.
    ///
    /// # Errors
    /// When an element would lie outside the slice.
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        columns: usize,
        row_stride: usize,
        column_stride: usize,
    ) -> Result<Self, ShapeError> {
        let layout = Layout::fitting(data.len(), rows, columns, row_stride, column_stride)?;
        Ok(Self { data, layout })
    }

    /// The transpose (no copy).
    #[must_use]
    pub fn t(self) -> Self {
        let Layout {
            rows,
            columns,
            row_stride,
            column_stride,
        } = self.layout;
        Self {
            data: self.data,
            layout: Layout {
                rows: columns,
                columns: rows,
                row_stride: column_stride,
                column_stride: row_stride,
            },
        }
    }
}

/// A writable strided matrix over a slice.
#[derive(Debug)]
pub struct ViewMut<'a> {
    data: &'a mut [f32],
    layout: Layout,
}

impl<'a> ViewMut<'a> {
    /// A row-major contiguous `rows × columns` matrix.
    ///
    /// # Errors
    /// When the slice is shorter than the shape.
    pub fn row_major(data: &'a mut [f32], rows: usize, columns: usize) -> Result<Self, ShapeError> {
        Self::strided(data, rows, columns, columns, 1)
    }

    /// A matrix whose element `(i, j)` is `data[i × row_stride + j × column_stride]`.
    ///
    /// # Errors
    /// When an element would lie outside the slice.
    pub fn strided(
        data: &'a mut [f32],
        rows: usize,
        columns: usize,
        row_stride: usize,
        column_stride: usize,
    ) -> Result<Self, ShapeError> {
        let layout = Layout::fitting(data.len(), rows, columns, row_stride, column_stride)?;
        Ok(Self { data, layout })
    }
}

/// How a product adds to what `out` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Accumulate {
    /// `out = scale · a · b` (the old contents are not read).
    Replace,
    /// `out += scale · a · b`.
    Add,
}

/// `out = scale·a·b` or `out += scale·a·b`, on one thread (the encoder's threads work at the
/// level of passes).
///
/// # Errors
/// When the shapes do not agree.
pub fn product(
    out: &mut ViewMut<'_>,
    a: View<'_>,
    b: View<'_>,
    scale: f32,
    accumulate: Accumulate,
) -> Result<(), ShapeError> {
    if a.layout.columns != b.layout.rows
        || out.layout.rows != a.layout.rows
        || out.layout.columns != b.layout.columns
    {
        return Err(ShapeError(format!(
            "{}×{} · {}×{} into {}×{}",
            a.layout.rows,
            a.layout.columns,
            b.layout.rows,
            b.layout.columns,
            out.layout.rows,
            out.layout.columns
        )));
    }
    if out.layout.rows == 0 || out.layout.columns == 0 {
        return Ok(());
    }
    if a.layout.columns == 0 {
        if accumulate == Accumulate::Replace {
            for i in 0..out.layout.rows {
                for j in 0..out.layout.columns {
                    out.data[i * out.layout.row_stride + j * out.layout.column_stride] = 0.0;
                }
            }
        }
        return Ok(());
    }
    // Strides fit `isize` (checked when the views were made).
    let stride = |s: usize| s as isize;
    // SAFETY: every view was checked when made: each element `(i, j)` with `i < rows`,
    // `j < columns` lies at `i·row_stride + j·column_stride < data.len()` of its own slice, and
    // the shapes agree (checked above), so gemm reads `a` and `b` and writes `out` only inside
    // their slices. `out.data` is a unique borrow, so it aliases neither `a` nor `b`.
    unsafe {
        gemm::gemm(
            out.layout.rows,
            out.layout.columns,
            a.layout.columns,
            out.data.as_mut_ptr(),
            stride(out.layout.column_stride),
            stride(out.layout.row_stride),
            accumulate == Accumulate::Add,
            a.data.as_ptr(),
            stride(a.layout.column_stride),
            stride(a.layout.row_stride),
            b.data.as_ptr(),
            stride(b.layout.column_stride),
            stride(b.layout.row_stride),
            1.0,
            scale,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The textbook triple loop.
    fn naive(a: View<'_>, b: View<'_>) -> Vec<f32> {
        let at = |v: &View<'_>, i: usize, j: usize| {
            v.data[i * v.layout.row_stride + j * v.layout.column_stride]
        };
        let mut out = vec![0.0; a.layout.rows * b.layout.columns];
        for i in 0..a.layout.rows {
            for j in 0..b.layout.columns {
                out[i * b.layout.columns + j] = (0..a.layout.columns)
                    .map(|k| at(&a, i, k) * at(&b, k, j))
                    .sum();
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0
                    - 1.0
            })
            .collect()
    }

    #[test]
    fn products_match_the_triple_loop_on_strided_views() {
        let a_data = values(7 * 9, 1);
        let b_data = values(9 * 5, 2);
        let a = View::row_major(&a_data, 7, 9).unwrap();
        // b as the transpose of a 5×9 row-major matrix.
        let b = View::row_major(&b_data, 5, 9).unwrap().t();
        let expected = naive(a, b);
        let mut out = vec![1.0; 7 * 5];
        product(
            &mut ViewMut::row_major(&mut out, 7, 5).unwrap(),
            a,
            b,
            1.0,
            Accumulate::Add,
        )
        .unwrap();
        for (got, want) in out.iter().zip(&expected) {
            assert!((got - (want + 1.0)).abs() < 1e-4, "{got} vs {want} + 1");
        }
        // Replace, scaled, into every other column of a wider matrix.
        let mut wide = vec![7.0; 7 * 10];
        product(
            &mut ViewMut::strided(&mut wide, 7, 5, 10, 2).unwrap(),
            a,
            b,
            0.5,
            Accumulate::Replace,
        )
        .unwrap();
        for i in 0..7 {
            for j in 0..5 {
                assert!((wide[i * 10 + 2 * j] - 0.5 * expected[i * 5 + j]).abs() < 1e-4);
                assert_eq!(wide[i * 10 + 2 * j + 1], 7.0, "untouched");
            }
        }
    }

    #[test]
    fn views_that_leave_their_slice_and_mismatched_shapes_are_errors() {
        let data = vec![0.0; 12];
        assert!(View::row_major(&data, 3, 5).is_err());
        assert!(View::strided(&data, 2, 2, 11, 1).is_err());
        assert!(View::strided(&data, 2, 2, 10, 1).is_ok());
        assert!(View::strided(&data, usize::MAX, 2, usize::MAX, 1).is_err());
        let a = View::row_major(&data, 3, 4).unwrap();
        let mut out = vec![0.0; 9];
        let result = product(
            &mut ViewMut::row_major(&mut out, 3, 3).unwrap(),
            a,
            a,
            1.0,
            Accumulate::Add,
        );
        assert!(result.is_err());
    }
}
