//! MatrixMarket coordinate files.
//!
//! Supported: `%%MatrixMarket matrix coordinate <field> <symmetry>` with field `real`,
//! `integer` or `pattern` (every stored entry is 1.0) and symmetry `general` or `symmetric`.
//! Header keywords are case-insensitive, `%` comment lines and blank lines may appear anywhere
//! after the header, indices are 1-based, duplicate entries are summed. A symmetric file stores
//! the lower triangle (`row >= col`); off-diagonal entries are mirrored on reading, and an entry
//! above the diagonal is an error. `array` format, `complex` / `hermitian` / `skew-symmetric`
//! files are rejected as unsupported.
//!
//! Writing emits `real` files whose values are printed with Rust's shortest round-trip
//! formatting (`{:e}`), so a write / read cycle reproduces the matrix bit for bit.

use super::IoError;
use crate::csr::CsrMatrix;
use crate::operator::LinearOperator;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Symmetry declared in (or written to) a MatrixMarket header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MtxSymmetry {
    /// Every stored entry is listed.
    #[default]
    General,
    /// Square and symmetric; only the lower triangle (`row >= col`) is listed.
    Symmetric,
}

/// The value field of a MatrixMarket header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Real,
    Integer,
    Pattern,
}

/// Reads a MatrixMarket coordinate file into a CSR matrix.
///
/// Cost: one pass over the file plus [`CsrMatrix::from_triplets`]; about 24 bytes of temporary
/// memory per stored entry (twice that for the mirrored entries of a symmetric file).
///
/// Errors: [`IoError::Io`] when the file cannot be opened or read, [`IoError::Parse`] (with the
/// 1-based line number) for malformed or unsupported content.
pub fn read_matrix_market(path: impl AsRef<Path>) -> Result<CsrMatrix, IoError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let len = file.metadata().ok().map(|m| m.len());
    read_impl(
        BufReader::with_capacity(1 << 16, file),
        len,
        &path.display().to_string(),
    )
}

/// Reads a MatrixMarket coordinate matrix from any buffered reader (see
/// [`read_matrix_market`]). Read failures are reported as [`IoError::Io`] with path
/// `<reader>`.
pub fn read_matrix_market_from<R: BufRead>(reader: R) -> Result<CsrMatrix, IoError> {
    read_impl(reader, None, "<reader>")
}

/// Writes `a` as a `real` MatrixMarket coordinate file.
///
/// With [`MtxSymmetry::Symmetric`] the matrix must pass [`CsrMatrix::check_symmetric`] with
/// relative tolerance `1e-14` (otherwise [`IoError::Linalg`] is returned and no file is
/// created) and only the entries with `row >= col` are written.
///
/// Errors: [`IoError::Io`] naming `path` when the file cannot be created or written.
pub fn write_matrix_market(
    path: impl AsRef<Path>,
    a: &CsrMatrix,
    symmetry: MtxSymmetry,
) -> Result<(), IoError> {
    let path = path.as_ref();
    check_writable(a, symmetry)?;
    let file = File::create(path).map_err(|e| IoError::io(path, e))?;
    write_impl(file, a, symmetry).map_err(|e| IoError::io(path, e))
}

/// Writes `a` in MatrixMarket format to any writer (see [`write_matrix_market`]); the output
/// is buffered internally. Write failures are reported as [`IoError::Io`] with path
/// `<writer>`.
pub fn write_matrix_market_to<W: Write>(
    w: W,
    a: &CsrMatrix,
    symmetry: MtxSymmetry,
) -> Result<(), IoError> {
    check_writable(a, symmetry)?;
    write_impl(w, a, symmetry).map_err(|e| IoError::io_named("<writer>", e))
}

fn check_writable(a: &CsrMatrix, symmetry: MtxSymmetry) -> Result<(), IoError> {
    if symmetry == MtxSymmetry::Symmetric {
        a.check_symmetric(1e-14)?;
    }
    Ok(())
}

fn write_impl<W: Write>(w: W, a: &CsrMatrix, symmetry: MtxSymmetry) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, w);
    let symmetric = symmetry == MtxSymmetry::Symmetric;
    let keep = |i: usize, j: usize| !symmetric || i >= j;
    let nnz = if symmetric {
        a.triplets().filter(|&(i, j, _)| keep(i, j)).count()
    } else {
        a.nnz()
    };
    let name = if symmetric { "symmetric" } else { "general" };
    writeln!(w, "%%MatrixMarket matrix coordinate real {name}")?;
    writeln!(w, "{} {} {}", a.nrows(), a.ncols(), nnz)?;
    for (i, j, v) in a.triplets() {
        if keep(i, j) {
            writeln!(w, "{} {} {:e}", i + 1, j + 1, v)?;
        }
    }
    w.flush()
}

fn parse_err(line: usize, reason: impl Into<String>) -> IoError {
    IoError::Parse {
        line,
        reason: reason.into(),
    }
}

/// A line reader that reuses one buffer and counts lines (1-based).
struct Lines<'s, R> {
    reader: R,
    buf: String,
    line: usize,
    source: &'s str,
}

impl<R: BufRead> Lines<'_, R> {
    /// Reads the next line into `buf`; `false` at end of input.
    fn next_line(&mut self) -> Result<bool, IoError> {
        self.buf.clear();
        match self.reader.read_line(&mut self.buf) {
            Ok(0) => Ok(false),
            Ok(_) => {
                self.line += 1;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(parse_err(self.line + 1, "line is not valid utf-8"))
            }
            Err(e) => Err(IoError::io_named(self.source, e)),
        }
    }

    /// Reads the next line that is neither blank nor a `%` comment; `false` at end of input.
    fn next_data_line(&mut self) -> Result<bool, IoError> {
        while self.next_line()? {
            let t = self.buf.trim_start();
            if !t.is_empty() && !t.starts_with('%') {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Splits `s` at ASCII whitespace into up to `N` fields; returns them and the total count.
fn fields<const N: usize>(s: &str) -> ([&str; N], usize) {
    let mut out = [""; N];
    let mut n = 0;
    for tok in s.split_ascii_whitespace() {
        if n < N {
            out[n] = tok;
        }
        n += 1;
    }
    (out, n)
}

fn parse_header(text: &str, line: usize) -> Result<(Field, MtxSymmetry), IoError> {
    let (f, n) = fields::<5>(text);
    if !f[0].eq_ignore_ascii_case("%%MatrixMarket") {
        return Err(parse_err(line, "header must start with %%MatrixMarket"));
    }
    if n != 5 {
        return Err(parse_err(
            line,
            format!("expected 5 header fields, found {n}"),
        ));
    }
    if !f[1].eq_ignore_ascii_case("matrix") {
        return Err(parse_err(line, format!("unsupported object '{}'", f[1])));
    }
    if !f[2].eq_ignore_ascii_case("coordinate") {
        return Err(parse_err(line, format!("unsupported format '{}'", f[2])));
    }
    let field = match f[3].to_ascii_lowercase().as_str() {
        "real" => Field::Real,
        "integer" => Field::Integer,
        "pattern" => Field::Pattern,
        _ => return Err(parse_err(line, format!("unsupported field '{}'", f[3]))),
    };
    let symmetry = match f[4].to_ascii_lowercase().as_str() {
        "general" => MtxSymmetry::General,
        "symmetric" => MtxSymmetry::Symmetric,
        _ => {
            return Err(parse_err(line, format!("unsupported symmetry '{}'", f[4])));
        }
    };
    Ok((field, symmetry))
}

fn parse_size(tok: &str, line: usize) -> Result<usize, IoError> {
    tok.parse::<usize>()
        .map_err(|_| parse_err(line, format!("size '{tok}' is not a non-negative integer")))
}

fn parse_index(tok: &str, what: &str, n: usize, line: usize) -> Result<usize, IoError> {
    let i = tok.parse::<usize>().map_err(|_| {
        parse_err(
            line,
            format!("{what} index '{tok}' is not a positive integer"),
        )
    })?;
    if i == 0 || i > n {
        return Err(parse_err(
            line,
            format!("{what} index {i} out of range 1..={n}"),
        ));
    }
    Ok(i - 1)
}

fn parse_value(tok: &str, field: Field, line: usize) -> Result<f64, IoError> {
    let v = match field {
        Field::Pattern => return Ok(1.0),
        Field::Integer => tok
            .parse::<i64>()
            .map(|v| v as f64)
            .map_err(|_| parse_err(line, format!("value '{tok}' is not an integer")))?,
        Field::Real => match tok.parse::<f64>() {
            Ok(v) => v,
            // Fortran-style exponents (`1.0D+00`) appear in some old collections.
            Err(_) if tok.bytes().any(|b| b == b'd' || b == b'D') => tok
                .replace(['d', 'D'], "e")
                .parse::<f64>()
                .map_err(|_| parse_err(line, format!("value '{tok}' is not a number")))?,
            Err(_) => return Err(parse_err(line, format!("value '{tok}' is not a number"))),
        },
    };
    if !v.is_finite() {
        return Err(parse_err(line, "non-finite value"));
    }
    Ok(v)
}

/// The reader behind [`read_matrix_market`] / [`read_matrix_market_from`]. `size_hint` is
/// the input length in bytes when known; it bounds the up-front reservation (a header may
/// declare any entry count).
fn read_impl<R: BufRead>(
    reader: R,
    size_hint: Option<u64>,
    source: &str,
) -> Result<CsrMatrix, IoError> {
    let mut lines = Lines {
        reader,
        buf: String::with_capacity(128),
        line: 0,
        source,
    };
    if !lines.next_line()? {
        return Err(parse_err(1, "header must start with %%MatrixMarket"));
    }
    let (field, symmetry) = parse_header(&lines.buf, lines.line)?;
    let symmetric = symmetry == MtxSymmetry::Symmetric;

    if !lines.next_data_line()? {
        return Err(parse_err(lines.line + 1, "missing size line"));
    }
    let line = lines.line;
    let (f, n) = fields::<3>(&lines.buf);
    if n != 3 {
        return Err(parse_err(line, format!("expected 3 fields, found {n}")));
    }
    let nrows = parse_size(f[0], line)?;
    let ncols = parse_size(f[1], line)?;
    let nnz = parse_size(f[2], line)?;
    let max = u32::MAX as usize;
    if nrows > max || ncols > max {
        return Err(parse_err(
            line,
            format!(
                "matrix size {nrows}×{ncols} exceeds the supported maximum {max} per dimension"
            ),
        ));
    }
    if symmetric && nrows != ncols {
        return Err(parse_err(
            line,
            format!("symmetric matrix must be square, got {nrows}×{ncols}"),
        ));
    }

    // The shortest possible entry line is 4 bytes ("1 1\n"), which bounds the entry count by
    // the input size when it is known.
    let bound = size_hint.map_or(1 << 20, |b| usize::try_from(b / 4).unwrap_or(usize::MAX));
    let mut cap = nnz.min(bound);
    if symmetric {
        cap = cap.saturating_mul(2);
    }
    let mut triplets: Vec<(usize, usize, f64)> = Vec::with_capacity(cap);
    let expected = if field == Field::Pattern { 2 } else { 3 };
    let mut count = 0usize;
    while lines.next_data_line()? {
        let line = lines.line;
        if count == nnz {
            return Err(parse_err(
                line,
                format!("more entries than the declared {nnz}"),
            ));
        }
        let (f, n) = fields::<3>(&lines.buf);
        if n != expected {
            return Err(parse_err(
                line,
                format!("expected {expected} fields, found {n}"),
            ));
        }
        let i = parse_index(f[0], "row", nrows, line)?;
        let j = parse_index(f[1], "column", ncols, line)?;
        let v = parse_value(f[2], field, line)?;
        if symmetric && j > i {
            return Err(parse_err(
                line,
                format!(
                    "entry ({}, {}) lies above the diagonal in a symmetric file",
                    i + 1,
                    j + 1
                ),
            ));
        }
        triplets.push((i, j, v));
        if symmetric && i != j {
            triplets.push((j, i, v));
        }
        count += 1;
    }
    if count < nnz {
        return Err(parse_err(
            lines.line + 1,
            format!("declared {nnz} entries, found {count}"),
        ));
    }
    Ok(CsrMatrix::from_triplets(nrows, ncols, &triplets)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinalgError;
    use crate::io::test_util::temp_path;

    fn read_str(s: &str) -> Result<CsrMatrix, IoError> {
        read_matrix_market_from(s.as_bytes())
    }

    /// The line and reason of a parse error (panics on anything else).
    fn parse_error(s: &str) -> (usize, String) {
        match read_str(s) {
            Err(IoError::Parse { line, reason }) => (line, reason),
            other => panic!("expected a parse error for {s:?}, got {other:?}"),
        }
    }

    fn tricky_values(n: usize) -> Vec<f64> {
        let special = [
            1.0 / 3.0,
            -2.0 / 7.0,
            1e-300,
            5e-324,
            f64::MAX,
            -f64::MIN_POSITIVE,
            0.1 + 0.2,
            -0.0,
            0.0,
            123456789.0,
        ];
        (0..n)
            .map(|k| {
                if k < special.len() {
                    special[k]
                } else {
                    ((k as f64) * 0.7311).sin() * 10f64.powi((k % 17) as i32 - 8)
                }
            })
            .collect()
    }

    fn general_matrix() -> CsrMatrix {
        let (m, n) = (13, 9);
        let vals = tricky_values(40);
        let t: Vec<_> = (0..40)
            .map(|k| ((k * 7) % m, (k * 5 + k / 9) % n, vals[k]))
            .collect();
        CsrMatrix::from_triplets(m, n, &t).unwrap()
    }

    fn symmetric_matrix() -> CsrMatrix {
        let n = 11;
        let vals = tricky_values(30);
        let mut t = Vec::new();
        for k in 0..30 {
            let (i, j) = ((k * 7) % n, (k * 3 + 1) % n);
            t.push((i, j, vals[k]));
            if i != j {
                t.push((j, i, vals[k]));
            }
        }
        CsrMatrix::from_triplets(n, n, &t).unwrap()
    }

    fn assert_bitwise_eq(a: &CsrMatrix, b: &CsrMatrix) {
        assert_eq!(a.nrows(), b.nrows());
        assert_eq!(a.ncols(), b.ncols());
        assert_eq!(a.row_ptr(), b.row_ptr());
        assert_eq!(a.col_idx(), b.col_idx());
        let bits = |m: &CsrMatrix| m.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }

    #[test]
    fn general_round_trip_is_bit_exact() {
        let a = general_matrix();
        let mut buf = Vec::new();
        write_matrix_market_to(&mut buf, &a, MtxSymmetry::General).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("%%MatrixMarket matrix coordinate real general\n13 9 "));
        let b = read_str(&text).unwrap();
        assert_bitwise_eq(&a, &b);

        let path = temp_path("general.mtx");
        write_matrix_market(&path, &a, MtxSymmetry::General).unwrap();
        let c = read_matrix_market(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_bitwise_eq(&a, &c);
    }

    #[test]
    fn symmetric_round_trip_writes_lower_triangle_only() {
        let a = symmetric_matrix();
        let mut buf = Vec::new();
        write_matrix_market_to(&mut buf, &a, MtxSymmetry::Symmetric).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("%%MatrixMarket matrix coordinate real symmetric")
        );
        let lower = a.triplets().filter(|&(i, j, _)| i >= j).count();
        assert_eq!(lines.next(), Some(format!("11 11 {lower}").as_str()));
        for l in lines {
            let f: Vec<usize> = l
                .split_whitespace()
                .take(2)
                .map(|t| t.parse().unwrap())
                .collect();
            assert!(f[0] >= f[1], "{l}");
        }
        assert_bitwise_eq(&a, &read_str(&text).unwrap());

        let path = temp_path("symmetric.mtx");
        write_matrix_market(&path, &a, MtxSymmetry::Symmetric).unwrap();
        let c = read_matrix_market(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_bitwise_eq(&a, &c);
    }

    #[test]
    fn writing_a_nonsymmetric_matrix_as_symmetric_fails() {
        let a = general_matrix();
        let err = write_matrix_market_to(Vec::new(), &a, MtxSymmetry::Symmetric).unwrap_err();
        assert!(matches!(
            err,
            IoError::Linalg(LinalgError::NotSquare { .. })
        ));
        let a = CsrMatrix::from_triplets(2, 2, &[(0, 1, 1.0), (1, 0, 1.5)]).unwrap();
        let path = temp_path("nonsym.mtx");
        let err = write_matrix_market(&path, &a, MtxSymmetry::Symmetric).unwrap_err();
        assert!(matches!(
            err,
            IoError::Linalg(LinalgError::NotSymmetric { .. })
        ));
        assert!(!path.exists(), "no file is created for an invalid matrix");
    }

    #[test]
    fn header_comments_blank_lines_and_fields() {
        let text = "%%matrixmarket MATRIX Coordinate Integer GENERAL\n\
                    % a comment\n\
                    \n\
                    3 4 4\n\
                    1 1 2\n\
                    % interleaved comment\n\
                    \r\n\
                    3 4 -5\r\n\
                    1 1 3\n\
                    \t2   2\t7  \n";
        let a = read_str(text).unwrap();
        assert_eq!((a.nrows(), a.ncols(), a.nnz()), (3, 4, 3));
        assert_eq!(a.get(0, 0), 5.0, "duplicates are summed");
        assert_eq!(a.get(2, 3), -5.0);
        assert_eq!(a.get(1, 1), 7.0);

        let a =
            read_str("%%MatrixMarket matrix coordinate pattern symmetric\n3 3 3\n1 1\n3 1\n3 2\n")
                .unwrap();
        assert_eq!(a.nnz(), 5);
        assert_eq!(a.get(0, 2), 1.0);
        assert_eq!(a.get(2, 0), 1.0);
        assert_eq!(a.get(1, 2), 1.0);
        assert_eq!(a.get(0, 0), 1.0);
        assert_eq!(a.get(1, 1), 0.0);

        let a = read_str(
            "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 4.5e0\n2 1 -1.0D+00\n",
        )
        .unwrap();
        assert_eq!(a.get(0, 1), -1.0);
        assert_eq!(a.get(1, 0), -1.0);
        assert_eq!(a.get(0, 0), 4.5);

        let a = read_str("%%MatrixMarket matrix coordinate real general\n0 0 0\n").unwrap();
        assert_eq!((a.nrows(), a.ncols(), a.nnz()), (0, 0, 0));
    }

    #[test]
    fn malformed_files_report_line_and_reason() {
        const G: &str = "%%MatrixMarket matrix coordinate real general\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (String::new(), 1, "header must start with %%MatrixMarket"),
            (
                "%MatrixMarket matrix coordinate real general\n1 1 0\n".into(),
                1,
                "header must start with %%MatrixMarket",
            ),
            (
                "%%MatrixMarket matrix coordinate real\n".into(),
                1,
                "expected 5 header fields, found 4",
            ),
            (
                "%%MatrixMarket matrix array real general\n2 2\n".into(),
                1,
                "unsupported format 'array'",
            ),
            (
                "%%MatrixMarket vector coordinate real general\n".into(),
                1,
                "unsupported object 'vector'",
            ),
            (
                "%%MatrixMarket matrix coordinate complex general\n".into(),
                1,
                "unsupported field 'complex'",
            ),
            (
                "%%MatrixMarket matrix coordinate real hermitian\n".into(),
                1,
                "unsupported symmetry 'hermitian'",
            ),
            (
                "%%MatrixMarket matrix coordinate real skew-symmetric\n".into(),
                1,
                "unsupported symmetry 'skew-symmetric'",
            ),
            (format!("{G}% c\n"), 3, "missing size line"),
            (format!("{G}% c\n5 5\n"), 3, "expected 3 fields, found 2"),
            (
                format!("{G}5 x 1\n"),
                2,
                "size 'x' is not a non-negative integer",
            ),
            (
                "%%MatrixMarket matrix coordinate real symmetric\n3 4 0\n".into(),
                2,
                "symmetric matrix must be square, got 3×4",
            ),
            (format!("{G}5 5 2\n1 1\n"), 3, "expected 3 fields, found 2"),
            (
                format!("{G}5 5 2\n1 1 1.0\n2 2 2 2\n"),
                4,
                "expected 3 fields, found 4",
            ),
            (
                format!("{G}5 5 1\n\n0 1 1.0\n"),
                4,
                "row index 0 out of range 1..=5",
            ),
            (
                format!("{G}5 3 1\n1 4 1.0\n"),
                3,
                "column index 4 out of range 1..=3",
            ),
            (
                format!("{G}5 5 1\n-1 1 1.0\n"),
                3,
                "row index '-1' is not a positive integer",
            ),
            (
                format!("{G}5 5 1\n1 1 abc\n"),
                3,
                "value 'abc' is not a number",
            ),
            (format!("{G}5 5 1\n1 1 inf\n"), 3, "non-finite value"),
            (format!("{G}5 5 1\n1 1 NaN\n"), 3, "non-finite value"),
            (
                "%%MatrixMarket matrix coordinate integer general\n5 5 1\n1 1 1.5\n".into(),
                3,
                "value '1.5' is not an integer",
            ),
            (
                "%%MatrixMarket matrix coordinate pattern general\n5 5 1\n1 1 1.5\n".into(),
                3,
                "expected 2 fields, found 3",
            ),
            (
                "%%MatrixMarket matrix coordinate real symmetric\n5 5 2\n1 1 1\n% x\n2 3 1\n"
                    .into(),
                5,
                "entry (2, 3) lies above the diagonal in a symmetric file",
            ),
            (
                format!("{G}10 10 3\n1 1 1\n2 2 2\n"),
                5,
                "declared 3 entries, found 2",
            ),
            (
                format!("{G}10 10 1\n1 1 1\n2 2 2\n"),
                4,
                "more entries than the declared 1",
            ),
        ];
        for (text, line, reason) in cases {
            assert_eq!(parse_error(&text), (line, reason.to_string()), "{text:?}");
        }
        // Invalid UTF-8 is a parse error on its line, not an I/O error.
        let mut bytes = format!("{G}2 2 1\n").into_bytes();
        bytes.extend_from_slice(b"1 1 \xff\n");
        assert!(matches!(
            read_matrix_market_from(bytes.as_slice()),
            Err(IoError::Parse { line: 3, .. })
        ));
    }

    #[test]
    fn absurd_declared_sizes_do_not_allocate() {
        let (line, reason) = parse_error(
            "%%MatrixMarket matrix coordinate real general\n5 5 99999999999999999\n1 1 1\n",
        );
        assert_eq!(
            (line, reason.as_str()),
            (4, "declared 99999999999999999 entries, found 1")
        );
        let (line, reason) =
            parse_error("%%MatrixMarket matrix coordinate real general\n99999999999 5 0\n");
        assert_eq!(line, 2);
        assert!(reason.contains("exceeds the supported maximum"), "{reason}");
        let (line, _) = parse_error(
            "%%MatrixMarket matrix coordinate real general\n5 5 999999999999999999999999\n",
        );
        assert_eq!(line, 2);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let path = temp_path("does-not-exist.mtx");
        match read_matrix_market(&path) {
            Err(IoError::Io { path: p, source }) => {
                assert_eq!(p, path.display().to_string());
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected an io error, got {other:?}"),
        }
    }
}
