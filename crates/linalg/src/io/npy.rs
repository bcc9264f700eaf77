//! NumPy `.npy` files.
//!
//! Reading accepts format versions 1.0, 2.0 and 3.0, the dtypes of [`NpyData`] in little-
//! (`<`), big- (`>`), native (`=`) or not-applicable (`|`, single-byte types) byte order, and
//! C- or Fortran-ordered arrays (Fortran order is converted to C order for up to three
//! dimensions). The header dict is parsed by a small tolerant parser: keys in any order,
//! arbitrary whitespace, single or double quotes, trailing commas, Python 2 `L` suffixes.
//!
//! Writing produces version 1.0, little-endian, C-ordered files with the header padded so that
//! the data starts at a multiple of 64 bytes, byte-identical to `numpy.save`.
//!
//! Malformed input never panics and never triggers an allocation larger than the input: shape
//! products are overflow-checked and, for files, compared with the file size before the data
//! buffer is allocated.

use super::IoError;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Alignment of the data section (numpy's `ARRAY_ALIGN`).
const ALIGN: usize = 64;
/// Spare header room numpy reserves for growing the first axis in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Longest header accepted on reading.
const MAX_HEADER_LEN: usize = 1 << 20;
/// Largest up-front data reservation when the input size is unknown.
const MAX_BLIND_RESERVE: usize = 1 << 24;

/// The elements of an array, by dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `float64` (`f8`).
    F64(Vec<f64>),
    /// `float32` (`f4`).
    F32(Vec<f32>),
    /// `int8` (`i1`).
    I8(Vec<i8>),
    /// `uint8` (`u1`).
    U8(Vec<u8>),
    /// `int32` (`i4`).
    I32(Vec<i32>),
    /// `int64` (`i8`).
    I64(Vec<i64>),
    /// `bool` (`b1`); any non-zero byte reads as `true`.
    Bool(Vec<bool>),
}

/// Borrowed array elements, by dtype: the input of the writers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NpyDataRef<'a> {
    /// `float64`.
    F64(&'a [f64]),
    /// `float32`.
    F32(&'a [f32]),
    /// `int8`.
    I8(&'a [i8]),
    /// `uint8`.
    U8(&'a [u8]),
    /// `int32`.
    I32(&'a [i32]),
    /// `int64`.
    I64(&'a [i64]),
    /// `bool`.
    Bool(&'a [bool]),
}

impl NpyData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// `true` when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NumPy name of the dtype (`"float64"`, `"int8"`, …).
    pub fn dtype_name(&self) -> &'static str {
        self.view().dtype_name()
    }

    /// A borrowed view, e.g. to write the data back with [`write_npy`].
    pub fn view(&self) -> NpyDataRef<'_> {
        match self {
            NpyData::F64(v) => NpyDataRef::F64(v),
            NpyData::F32(v) => NpyDataRef::F32(v),
            NpyData::I8(v) => NpyDataRef::I8(v),
            NpyData::U8(v) => NpyDataRef::U8(v),
            NpyData::I32(v) => NpyDataRef::I32(v),
            NpyData::I64(v) => NpyDataRef::I64(v),
            NpyData::Bool(v) => NpyDataRef::Bool(v),
        }
    }
}

impl NpyDataRef<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyDataRef::F64(v) => v.len(),
            NpyDataRef::F32(v) => v.len(),
            NpyDataRef::I8(v) => v.len(),
            NpyDataRef::U8(v) => v.len(),
            NpyDataRef::I32(v) => v.len(),
            NpyDataRef::I64(v) => v.len(),
            NpyDataRef::Bool(v) => v.len(),
        }
    }

    /// `true` when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NumPy name of the dtype (`"float64"`, `"int8"`, …).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            NpyDataRef::F64(_) => "float64",
            NpyDataRef::F32(_) => "float32",
            NpyDataRef::I8(_) => "int8",
            NpyDataRef::U8(_) => "uint8",
            NpyDataRef::I32(_) => "int32",
            NpyDataRef::I64(_) => "int64",
            NpyDataRef::Bool(_) => "bool",
        }
    }

    /// The little-endian dtype descriptor written to headers.
    fn descr(&self) -> &'static str {
        match self {
            NpyDataRef::F64(_) => "<f8",
            NpyDataRef::F32(_) => "<f4",
            NpyDataRef::I8(_) => "|i1",
            NpyDataRef::U8(_) => "|u1",
            NpyDataRef::I32(_) => "<i4",
            NpyDataRef::I64(_) => "<i8",
            NpyDataRef::Bool(_) => "|b1",
        }
    }
}

/// An n-dimensional array read from a `.npy` file, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions; empty for a 0-d (scalar) array. Their product equals `data.len()`.
    pub shape: Vec<usize>,
    /// The elements in C order.
    pub data: NpyData,
}

impl NpyArray {
    /// Number of elements (the product of `shape`).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// `true` when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements converted to `f64` (`bool` as 0/1; `int64` beyond ±2^53 rounds).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F64(v) => v.clone(),
            NpyData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            NpyData::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            NpyData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            NpyData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        }
    }

    /// The elements converted to `i8`: integer and `bool` data whose values all fit
    /// (`bool` as 0/1). Floating-point data is rejected, as is any out-of-range value
    /// ([`IoError::Npy`] naming the first one).
    pub fn to_i8(&self) -> Result<Vec<i8>, IoError> {
        fn narrow<T: Copy + std::fmt::Display>(v: &[T]) -> Result<Vec<i8>, IoError>
        where
            i8: TryFrom<T>,
        {
            v.iter()
                .enumerate()
                .map(|(k, &x)| {
                    i8::try_from(x).map_err(|_| {
                        npy_err(format!("value {x} at index {k} does not fit in int8"))
                    })
                })
                .collect()
        }
        match &self.data {
            NpyData::F64(_) | NpyData::F32(_) => Err(npy_err(format!(
                "cannot convert {} data to int8",
                self.data.dtype_name()
            ))),
            NpyData::I8(v) => Ok(v.clone()),
            NpyData::U8(v) => narrow(v),
            NpyData::I32(v) => narrow(v),
            NpyData::I64(v) => narrow(v),
            NpyData::Bool(v) => Ok(v.iter().map(|&b| i8::from(b)).collect()),
        }
    }
}

fn npy_err(reason: impl Into<String>) -> IoError {
    IoError::Npy {
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Reads a `.npy` file.
///
/// Cost: one pass over the file; peak memory about twice the data size (raw bytes and decoded
/// elements).
///
/// Errors: [`IoError::Io`] naming `path` when the file cannot be opened or read,
/// [`IoError::Npy`] for malformed or unsupported content (bad magic, unknown version or dtype,
/// malformed header, truncated data, more than 3-d Fortran-ordered arrays).
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray, IoError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let len = file.metadata().ok().map(|m| m.len());
    read_impl(
        &mut BufReader::with_capacity(1 << 16, file),
        len,
        &path.display().to_string(),
    )
}

/// Reads a `.npy` array from any reader (see [`read_npy`]); exactly the header and the data
/// bytes are consumed. Read failures are reported as [`IoError::Io`] with path `<reader>`.
pub fn read_npy_from<R: Read>(mut reader: R) -> Result<NpyArray, IoError> {
    read_impl(&mut reader, None, "<reader>")
}

/// Element type and byte order of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    kind: Kind,
    big_endian: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F64,
    F32,
    I8,
    U8,
    I32,
    I64,
    Bool,
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::F64 | Kind::I64 => 8,
            Kind::F32 | Kind::I32 => 4,
            Kind::I8 | Kind::U8 | Kind::Bool => 1,
        }
    }
}

fn parse_descr(descr: &str) -> Result<Dtype, IoError> {
    let unsupported = || npy_err(format!("unsupported dtype '{descr}'"));
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let kind = match chars.as_str() {
        "f8" => Kind::F64,
        "f4" => Kind::F32,
        "i1" => Kind::I8,
        "u1" => Kind::U8,
        "i4" => Kind::I32,
        "i8" => Kind::I64,
        "b1" => Kind::Bool,
        _ => return Err(unsupported()),
    };
    let big_endian = match order {
        '<' => false,
        '>' => true,
        '=' => cfg!(target_endian = "big"),
        '|' if kind.size() == 1 => false,
        _ => return Err(unsupported()),
    };
    Ok(Dtype { kind, big_endian })
}

/// The parsed header dict.
#[derive(Debug, PartialEq)]
struct Header {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value of the header dict.
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A recursive-descent parser for the Python dict literal of a `.npy` header.
struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl HeaderParser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && (self.s[self.pos].is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn err(&self, what: &str) -> IoError {
        if self.pos >= self.s.len() {
            npy_err(format!("malformed header: {what} at end of header"))
        } else {
            npy_err(format!("malformed header: {what} at byte {}", self.pos))
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), IoError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn string(&mut self) -> Result<String, IoError> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.err("expected a quoted string")),
        };
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.pos) {
            self.pos += 1;
            if c == quote {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            if c == b'\\' {
                if let Some(&d) = self.s.get(self.pos) {
                    out.push(d);
                    self.pos += 1;
                }
                continue;
            }
            out.push(c);
        }
        Err(self.err("unterminated string"))
    }

    fn integer(&mut self) -> Result<usize, IoError> {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.err("expected a non-negative integer"));
        }
        let digits = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        let v = digits
            .parse::<usize>()
            .map_err(|_| npy_err(format!("shape dimension {digits} is too large")))?;
        // Python 2 long suffix.
        if matches!(self.s.get(self.pos), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(v)
    }

    fn tuple(&mut self) -> Result<Vec<usize>, IoError> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(dims);
            }
            dims.push(self.integer()?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err(self.err("expected ',' or ')' in shape")),
            }
        }
    }

    fn value(&mut self) -> Result<PyValue, IoError> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'(') => Ok(PyValue::Tuple(self.tuple()?)),
            Some(b'[') => Err(npy_err("structured dtypes are not supported")),
            _ => {
                let rest = &self.s[self.pos..];
                if rest.starts_with(b"True") {
                    self.pos += 4;
                    Ok(PyValue::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.pos += 5;
                    Ok(PyValue::Bool(false))
                } else {
                    Err(self.err("unsupported value"))
                }
            }
        }
    }

    fn header(mut self) -> Result<Header, IoError> {
        if self.peek() != Some(b'{') {
            return Err(npy_err("header is not a dict"));
        }
        self.pos += 1;
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.value()?;
            match (key.as_str(), value) {
                ("descr", PyValue::Str(s)) => descr = Some(s),
                ("fortran_order", PyValue::Bool(b)) => fortran = Some(b),
                ("shape", PyValue::Tuple(t)) => shape = Some(t),
                ("descr" | "fortran_order" | "shape", _) => {
                    return Err(npy_err(format!("header key '{key}' has the wrong type")));
                }
                _ => {} // Unknown keys are ignored.
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        self.skip_ws();
        if self.s[self.pos..].iter().any(|&c| c != 0) {
            return Err(self.err("trailing characters after the dict"));
        }
        let missing = |k: &str| npy_err(format!("header is missing key '{k}'"));
        Ok(Header {
            dtype: parse_descr(&descr.ok_or_else(|| missing("descr"))?)?,
            fortran_order: fortran.ok_or_else(|| missing("fortran_order"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
        })
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, IoError> {
    HeaderParser { s: bytes, pos: 0 }.header()
}

/// `read_exact` with end of input reported as a truncated `what`.
fn read_exact_or<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    what: &str,
    source: &str,
) -> Result<(), IoError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            npy_err(format!("truncated {what}"))
        } else {
            IoError::io_named(source, e)
        }
    })
}

/// Decodes fixed-size elements from `bytes` (whose length is a multiple of the size).
macro_rules! decode {
    ($bytes:expr, $t:ty, $big:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        $bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                if $big {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            })
            .collect::<Vec<$t>>()
    }};
}

/// Reorders Fortran-ordered (column-major) elements of `shape` (at most 3-d) into C order.
fn fortran_to_c<T: Copy>(v: Vec<T>, shape: &[usize]) -> Vec<T> {
    match *shape {
        [d0, d1] => {
            let mut out = Vec::with_capacity(v.len());
            for i in 0..d0 {
                out.extend((0..d1).map(|j| v[i + d0 * j]));
            }
            out
        }
        [d0, d1, d2] => {
            let mut out = Vec::with_capacity(v.len());
            for i in 0..d0 {
                for j in 0..d1 {
                    out.extend((0..d2).map(|k| v[i + d0 * (j + d1 * k)]));
                }
            }
            out
        }
        _ => v,
    }
}

fn read_impl<R: Read>(
    r: &mut R,
    input_len: Option<u64>,
    source: &str,
) -> Result<NpyArray, IoError> {
    let mut prefix = [0u8; 8];
    read_exact_or(r, &mut prefix, "header", source)?;
    if &prefix[..6] != MAGIC {
        return Err(npy_err("bad magic: not an npy file"));
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (header_len, prefix_len) = match major {
        1 => {
            let mut b = [0u8; 2];
            read_exact_or(r, &mut b, "header", source)?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            read_exact_or(r, &mut b, "header", source)?;
            let len = u32::from_le_bytes(b);
            (usize::try_from(len).unwrap_or(usize::MAX), 12)
        }
        _ => {
            return Err(npy_err(format!(
                "unsupported format version {major}.{minor}"
            )));
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(npy_err(format!(
            "header length {header_len} exceeds the limit {MAX_HEADER_LEN}"
        )));
    }
    let mut header = vec![0u8; header_len];
    read_exact_or(r, &mut header, "header", source)?;
    let Header {
        dtype,
        fortran_order,
        shape,
    } = parse_header(&header)?;
    if fortran_order && shape.len() > 3 {
        return Err(npy_err(format!(
            "fortran-ordered arrays of {} dimensions are not supported (at most 3)",
            shape.len()
        )));
    }

    let too_large = || npy_err(format!("shape {shape:?} is too large"));
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_large)?;
    let nbytes = count.checked_mul(dtype.kind.size()).ok_or_else(too_large)?;
    let reserve = match input_len {
        Some(len) => {
            let available = len.saturating_sub((prefix_len + header_len) as u64);
            if nbytes as u64 > available {
                return Err(npy_err(format!(
                    "truncated data: expected {nbytes} bytes, found {available}"
                )));
            }
            nbytes
        }
        None => nbytes.min(MAX_BLIND_RESERVE),
    };
    let mut bytes = Vec::with_capacity(reserve);
    r.take(nbytes as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| IoError::io_named(source, e))?;
    if bytes.len() < nbytes {
        return Err(npy_err(format!(
            "truncated data: expected {nbytes} bytes, found {}",
            bytes.len()
        )));
    }

    let be = dtype.big_endian;
    let data = match dtype.kind {
        Kind::F64 => NpyData::F64(decode!(bytes, f64, be)),
        Kind::F32 => NpyData::F32(decode!(bytes, f32, be)),
        Kind::I32 => NpyData::I32(decode!(bytes, i32, be)),
        Kind::I64 => NpyData::I64(decode!(bytes, i64, be)),
        Kind::I8 => NpyData::I8(bytes.iter().map(|&b| b as i8).collect()),
        Kind::Bool => NpyData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        Kind::U8 => NpyData::U8(bytes),
    };
    let data = if fortran_order && shape.len() >= 2 {
        match data {
            NpyData::F64(v) => NpyData::F64(fortran_to_c(v, &shape)),
            NpyData::F32(v) => NpyData::F32(fortran_to_c(v, &shape)),
            NpyData::I8(v) => NpyData::I8(fortran_to_c(v, &shape)),
            NpyData::U8(v) => NpyData::U8(fortran_to_c(v, &shape)),
            NpyData::I32(v) => NpyData::I32(fortran_to_c(v, &shape)),
            NpyData::I64(v) => NpyData::I64(fortran_to_c(v, &shape)),
            NpyData::Bool(v) => NpyData::Bool(fortran_to_c(v, &shape)),
        }
    } else {
        data
    };
    Ok(NpyArray { shape, data })
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes a C-ordered array as a version 1.0 `.npy` file, byte-identical to `numpy.save`.
///
/// Errors: [`IoError::Npy`] when the product of `shape` differs from the number of elements
/// (checked before the file is created), [`IoError::Io`] naming `path` when the file cannot be
/// created or written.
pub fn write_npy(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: NpyDataRef<'_>,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let header = build_header(shape, data)?;
    let file = File::create(path).map_err(|e| IoError::io(path, e))?;
    write_body(file, &header, data).map_err(|e| IoError::io(path, e))
}

/// Writes an `f64` array (see [`write_npy`]).
pub fn write_npy_f64(path: impl AsRef<Path>, shape: &[usize], data: &[f64]) -> Result<(), IoError> {
    write_npy(path, shape, NpyDataRef::F64(data))
}

/// Writes an `f32` array (see [`write_npy`]).
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<(), IoError> {
    write_npy(path, shape, NpyDataRef::F32(data))
}

/// Writes an `i8` array (see [`write_npy`]).
pub fn write_npy_i8(path: impl AsRef<Path>, shape: &[usize], data: &[i8]) -> Result<(), IoError> {
    write_npy(path, shape, NpyDataRef::I8(data))
}

/// Writes a `.npy` array to any writer (see [`write_npy`]); output is written in 64 KiB
/// chunks. Write failures are reported as [`IoError::Io`] with path `<writer>`.
pub fn write_npy_to<W: Write>(w: W, shape: &[usize], data: NpyDataRef<'_>) -> Result<(), IoError> {
    let header = build_header(shape, data)?;
    write_body(w, &header, data).map_err(|e| IoError::io_named("<writer>", e))
}

/// Python's `repr` of a shape tuple: `()`, `(3,)`, `(2, 3)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// The magic string, version, header length and padded header dict, as `numpy.save` writes
/// them (numpy ≥ 1.24 layout: growth padding, then alignment to 64 bytes, then `\n`).
fn build_header(shape: &[usize], data: NpyDataRef<'_>) -> Result<Vec<u8>, IoError> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| npy_err(format!("shape {shape:?} is too large")))?;
    if count != data.len() {
        return Err(npy_err(format!(
            "shape {shape:?} holds {count} elements but {} were given",
            data.len()
        )));
    }
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        data.descr(),
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.extend(std::iter::repeat_n(
            ' ',
            GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
        ));
    }
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let pad = ALIGN - unpadded % ALIGN;
    let header_len = dict.len() + pad + 1;
    let header_len = u16::try_from(header_len)
        .map_err(|_| npy_err(format!("header of {header_len} bytes is too long")))?;
    let mut out = Vec::with_capacity(unpadded + pad);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    Ok(out)
}

/// Writes `data` as little-endian bytes, `N` bytes per element, in 64 KiB chunks.
fn write_le<W: Write, T: Copy, const N: usize>(
    w: &mut W,
    data: &[T],
    to_le: impl Fn(T) -> [u8; N],
) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK);
    for chunk in data.chunks(CHUNK / N) {
        buf.clear();
        for &x in chunk {
            buf.extend_from_slice(&to_le(x));
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn write_body<W: Write>(mut w: W, header: &[u8], data: NpyDataRef<'_>) -> std::io::Result<()> {
    w.write_all(header)?;
    match data {
        NpyDataRef::F64(v) => write_le(&mut w, v, f64::to_le_bytes)?,
        NpyDataRef::F32(v) => write_le(&mut w, v, f32::to_le_bytes)?,
        NpyDataRef::I32(v) => write_le(&mut w, v, i32::to_le_bytes)?,
        NpyDataRef::I64(v) => write_le(&mut w, v, i64::to_le_bytes)?,
        NpyDataRef::I8(v) => write_le(&mut w, v, i8::to_le_bytes)?,
        NpyDataRef::U8(v) => w.write_all(v)?,
        NpyDataRef::Bool(v) => write_le(&mut w, v, |b| [u8::from(b)])?,
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_util::temp_path;

    /// A v1.0 file with the given header dict text (padded as numpy does) and raw data.
    fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
        let unpadded = 10 + dict.len() + 1;
        let pad = (ALIGN - unpadded % ALIGN) % ALIGN;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out.extend(std::iter::repeat_n(b' ', pad));
        out.push(b'\n');
        out.extend_from_slice(data);
        out
    }

    fn npy_error(bytes: &[u8]) -> String {
        match read_npy_from(bytes) {
            Err(IoError::Npy { reason }) => reason,
            other => panic!("expected an npy error, got {other:?}"),
        }
    }

    fn f64_le(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn numpy_written_header_parses_and_writer_matches_it_byte_for_byte() {
        let dict = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        let mut bytes = b"\x93NUMPY\x01\x00v\x00".to_vec();
        bytes.extend_from_slice(dict);
        bytes.resize(127, b' ');
        bytes.push(b'\n');
        assert_eq!(bytes.len(), 128);
        let vals = [1.0, 2.5, -3.0, 1e-300, f64::MAX, -0.0];
        bytes.extend_from_slice(&f64_le(&vals));

        let a = read_npy_from(bytes.as_slice()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, NpyData::F64(vals.to_vec()));

        let mut written = Vec::new();
        write_npy_to(&mut written, &[2, 3], NpyDataRef::F64(&vals)).unwrap();
        assert_eq!(written, bytes);
    }

    #[test]
    fn header_layout_is_aligned_and_newline_terminated() {
        for shape in [
            vec![],
            vec![0],
            vec![7],
            vec![12345678901234, 0],
            vec![2, 3, 4],
            vec![1; 40],
        ] {
            let n: usize = shape.iter().product();
            let data = vec![1i8; n];
            let mut w = Vec::new();
            write_npy_to(&mut w, &shape, NpyDataRef::I8(&data)).unwrap();
            let hl = usize::from(u16::from_le_bytes([w[8], w[9]]));
            assert_eq!((10 + hl) % ALIGN, 0, "{shape:?}");
            assert_eq!(w[10 + hl - 1], b'\n');
            assert_eq!(w.len(), 10 + hl + n);
            let a = read_npy_from(w.as_slice()).unwrap();
            assert_eq!(a.shape, shape);
            assert_eq!(a.len(), n);
        }
    }

    #[test]
    fn round_trips_1d_2d_3d() {
        let shapes: [&[usize]; 4] = [&[10], &[3, 4], &[2, 3, 4], &[]];
        for shape in shapes {
            let n: usize = shape.iter().product();
            let f: Vec<f64> = (0..n).map(|k| (k as f64 * 0.37).sin() / 3.0).collect();
            let g: Vec<f32> = f.iter().map(|&x| x as f32 * 1.5).collect();
            let h: Vec<i8> = (0..n).map(|k| (k as i64 * 37 % 256 - 128) as i8).collect();

            let p = temp_path("f64.npy");
            write_npy_f64(&p, shape, &f).unwrap();
            let a = read_npy(&p).unwrap();
            std::fs::remove_file(&p).unwrap();
            assert_eq!(a.shape, shape);
            assert_eq!(a.data, NpyData::F64(f.clone()));
            assert_eq!(a.to_f64(), f);

            let p = temp_path("f32.npy");
            write_npy_f32(&p, shape, &g).unwrap();
            let a = read_npy(&p).unwrap();
            std::fs::remove_file(&p).unwrap();
            assert_eq!(
                (a.shape.as_slice(), &a.data),
                (shape, &NpyData::F32(g.clone()))
            );

            let p = temp_path("i8.npy");
            write_npy_i8(&p, shape, &h).unwrap();
            let a = read_npy(&p).unwrap();
            std::fs::remove_file(&p).unwrap();
            assert_eq!(
                (a.shape.as_slice(), &a.data),
                (shape, &NpyData::I8(h.clone()))
            );
            assert_eq!(a.to_i8().unwrap(), h);
        }
    }

    #[test]
    fn all_dtypes_round_trip_through_a_writer() {
        let arrays = [
            NpyData::U8(vec![0, 1, 255, 7]),
            NpyData::I32(vec![i32::MIN, -1, 0, i32::MAX]),
            NpyData::I64(vec![i64::MIN, -1, 0, i64::MAX]),
            NpyData::Bool(vec![true, false, false, true]),
        ];
        for data in arrays {
            let mut w = Vec::new();
            write_npy_to(&mut w, &[2, 2], data.view()).unwrap();
            let a = read_npy_from(w.as_slice()).unwrap();
            assert_eq!(a.shape, vec![2, 2]);
            assert_eq!(a.data, data);
        }
    }

    #[test]
    fn fortran_order_is_converted_to_c_order() {
        // A = [[0, 1, 2], [10, 11, 12]] stored column by column.
        let f = [0.0, 10.0, 1.0, 11.0, 2.0, 12.0];
        let bytes = npy_bytes(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &f64_le(&f),
        );
        let a = read_npy_from(bytes.as_slice()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.to_f64(), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);

        // 3-d: element (i, j, k) = 100 i + 10 j + k, Fortran index i + 2 (j + 3 k).
        let (d0, d1, d2) = (2, 3, 4);
        let mut fdata = vec![0i32; d0 * d1 * d2];
        let mut cdata = Vec::new();
        for i in 0..d0 {
            for j in 0..d1 {
                for k in 0..d2 {
                    let v = (100 * i + 10 * j + k) as i32;
                    fdata[i + d0 * (j + d1 * k)] = v;
                    cdata.push(v);
                }
            }
        }
        let raw: Vec<u8> = fdata.iter().flat_map(|x| x.to_be_bytes()).collect();
        let bytes = npy_bytes(
            "{'shape': (2, 3, 4), 'fortran_order': True, 'descr': '>i4'}",
            &raw,
        );
        let a = read_npy_from(bytes.as_slice()).unwrap();
        assert_eq!(a.data, NpyData::I32(cdata));

        let bytes = npy_bytes(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 1, 1, 1), }",
            &f64_le(&[1.0]),
        );
        assert!(npy_error(&bytes).contains("4 dimensions"));
    }

    #[test]
    fn tolerant_header_parsing_and_other_versions() {
        // Keys in any order, double quotes, Python 2 long suffix, no trailing comma.
        let bytes = npy_bytes(
            "{ \"shape\" : (3L,) ,\"fortran_order\":False,'descr':'>f8' }",
            &[1.5f64, -2.0, 3.25]
                .iter()
                .flat_map(|x| x.to_be_bytes())
                .collect::<Vec<_>>(),
        );
        let a = read_npy_from(bytes.as_slice()).unwrap();
        assert_eq!(a.data, NpyData::F64(vec![1.5, -2.0, 3.25]));

        // A 0-d array.
        let bytes = npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            &f64_le(&[4.0]),
        );
        let a = read_npy_from(bytes.as_slice()).unwrap();
        assert_eq!((a.shape.len(), a.to_f64()), (0, vec![4.0]));

        // Version 2.0 and 3.0: 4-byte header length.
        for major in [2u8, 3] {
            let dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }\n";
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&[major, 0]);
            bytes.extend_from_slice(&(dict.len() as u32).to_le_bytes());
            bytes.extend_from_slice(dict.as_bytes());
            bytes.extend_from_slice(&[1, 2, 3, 200]);
            let a = read_npy_from(bytes.as_slice()).unwrap();
            assert_eq!(a.data, NpyData::U8(vec![1, 2, 3, 200]));
            assert_eq!(
                a.to_i8().unwrap_err().to_string(),
                "npy: value 200 at index 3 does not fit in int8"
            );
        }
    }

    #[test]
    fn conversions() {
        let a = NpyArray {
            shape: vec![3],
            data: NpyData::I64(vec![-128, 0, 127]),
        };
        assert_eq!(a.to_i8().unwrap(), vec![-128, 0, 127]);
        assert_eq!(a.to_f64(), vec![-128.0, 0.0, 127.0]);
        let a = NpyArray {
            shape: vec![2],
            data: NpyData::Bool(vec![true, false]),
        };
        assert_eq!(a.to_i8().unwrap(), vec![1, 0]);
        assert_eq!(a.to_f64(), vec![1.0, 0.0]);
        let a = NpyArray {
            shape: vec![1],
            data: NpyData::I32(vec![-129]),
        };
        assert!(matches!(a.to_i8(), Err(IoError::Npy { .. })));
        let a = NpyArray {
            shape: vec![1],
            data: NpyData::F32(vec![1.0]),
        };
        assert_eq!(
            a.to_i8().unwrap_err().to_string(),
            "npy: cannot convert float32 data to int8"
        );
        assert!(!a.is_empty());
    }

    #[test]
    fn malformed_input_is_an_npy_error() {
        let good = npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &f64_le(&[1.0, 2.0]),
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"\x93NUMPX\x01\x00".to_vec(), "bad magic: not an npy file"),
            (b"\x93NU".to_vec(), "truncated header"),
            (Vec::new(), "truncated header"),
            (good[..60].to_vec(), "truncated header"),
            (
                good[..good.len() - 3].to_vec(),
                "truncated data: expected 16 bytes, found 13",
            ),
            (
                [&b"\x93NUMPY\x04\x00"[..], &good[8..]].concat(),
                "unsupported format version 4.0",
            ),
            (
                npy_bytes(
                    "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
                    &[0; 16],
                ),
                "unsupported dtype '<c16'",
            ),
            (
                npy_bytes(
                    "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }",
                    &[0; 8],
                ),
                "unsupported dtype '|f8'",
            ),
            (
                npy_bytes(
                    "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                    &[0; 8],
                ),
                "structured dtypes are not supported",
            ),
            (npy_bytes("['descr', '<f8']", &[]), "header is not a dict"),
            (
                npy_bytes("{'descr' '<f8'}", &[]),
                "malformed header: expected ':' at byte 9",
            ),
            (npy_bytes("", &[]), "header is not a dict"),
            (
                npy_bytes("{'descr': '<f8', 'shape': (1,)}", &[0; 8]),
                "header is missing key 'fortran_order'",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
                    &[0; 8],
                ),
                "malformed header: unsupported value at byte 34",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': '1'}",
                    &[0; 8],
                ),
                "header key 'shape' has the wrong type",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1, -2)}",
                    &[0; 8],
                ),
                "malformed header: expected a non-negative integer at byte 54",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
                    &[0; 8],
                ),
                "malformed header: trailing characters after the dict at byte 56",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)",
                    &[0; 8],
                ),
                "malformed header: expected ',' or '}' at end of header",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8, 'fortran_order': False, 'shape': (1,)}",
                    &[0; 8],
                ),
                "malformed header: expected ',' or '}' at byte 17",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904)}",
                    &[],
                ),
                "shape [4611686018427387904, 4611686018427387904] is too large",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
                    &[],
                ),
                "shape dimension 99999999999999999999999 is too large",
            ),
            (
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,)}",
                    &[0; 64],
                ),
                "truncated data: expected 8796093022208 bytes, found 64",
            ),
        ];
        for (bytes, reason) in cases {
            assert_eq!(
                npy_error(&bytes),
                reason,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }

        let mut huge_header = MAGIC.to_vec();
        huge_header.extend_from_slice(&[2, 0]);
        huge_header.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(npy_error(&huge_header).contains("exceeds the limit"));
    }

    #[test]
    fn file_size_bounds_the_data_allocation() {
        let bytes = npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1024), }",
            &[0; 128],
        );
        let p = temp_path("huge.npy");
        std::fs::write(&p, &bytes).unwrap();
        let r = read_npy(&p);
        std::fs::remove_file(&p).unwrap();
        match r {
            Err(IoError::Npy { reason }) => {
                assert_eq!(
                    reason,
                    "truncated data: expected 9007199254740992 bytes, found 128"
                )
            }
            other => panic!("expected an npy error, got {other:?}"),
        }
    }

    #[test]
    fn shape_mismatch_and_missing_files() {
        let p = temp_path("mismatch.npy");
        let err = write_npy_f64(&p, &[2, 3], &[1.0; 5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "npy: shape [2, 3] holds 6 elements but 5 were given"
        );
        assert!(!p.exists(), "no file is created for inconsistent input");
        assert!(matches!(
            write_npy_to(Vec::new(), &[usize::MAX, 2], NpyDataRef::I8(&[])),
            Err(IoError::Npy { .. })
        ));
        match read_npy(&p) {
            Err(IoError::Io { path, .. }) => assert_eq!(path, p.display().to_string()),
            other => panic!("expected an io error, got {other:?}"),
        }
    }
}
