//! numpy ⇄ slices without copies: read-only views of C-contiguous float64 arrays, and fresh
//! arrays that Rust fills in place.

use numpy::{
    Element, IxDyn, PyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The elements of `a` as a slice (no copy). Errors: a non-contiguous array (the Python layer
/// passes `np.ascontiguousarray` views, which copy only when they must).
pub fn slice<'a, T: Element>(a: &'a PyReadonlyArrayDyn<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be a C-contiguous array")))
}

/// A new zero-filled array of `shape`, and a mutable view of its elements for Rust to fill
/// (the GIL may be released while the view is written: nothing else holds the new array).
pub fn zeros<'py, T: Element>(py: Python<'py>, shape: &[usize]) -> Bound<'py, PyArrayDyn<T>> {
    PyArray::<T, _>::zeros(py, IxDyn(shape), false)
}

/// A one-dimensional array owning `v` (no copy).
pub fn vec1<T: Element>(py: Python<'_>, v: Vec<T>) -> Bound<'_, numpy::PyArray1<T>> {
    PyArray::from_vec(py, v)
}

/// `v` as an array of `shape` (no copy; `v.len()` must equal the product of `shape`).
pub fn shaped<'py, T: Element>(
    py: Python<'py>,
    v: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    PyArray::from_vec(py, v).reshape(IxDyn(shape))
}

/// `obj` as a C-contiguous float64 array: the object itself when it already is one (no
/// copy), else `numpy.ascontiguousarray(obj, dtype=float64)`.
pub fn f64_array<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>()
        && a.is_c_contiguous()
    {
        return Ok(a.clone());
    }
    let np = obj.py().import("numpy")?;
    let a = np.call_method1("ascontiguousarray", (obj, "float64"))?;
    Ok(a.cast_into::<PyArrayDyn<f64>>()?)
}

/// Flag codes as a C-contiguous int8 array: the object itself when it is one, else the
/// Python layer's checked conversion (`ritz._convert.flags_int8`: integer values in {0, 1, 2}
/// only, so that no value wraps around).
pub fn flags_array<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<i8>>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<i8>>()
        && a.is_c_contiguous()
    {
        return Ok(a.clone());
    }
    let a = obj
        .py()
        .import("ritz._convert")?
        .call_method1("flags_int8", (obj,))?;
    Ok(a.cast_into::<PyArrayDyn<i8>>()?)
}

/// A shape as Python prints a tuple: `(32, 32)`, `(5,)`.
pub fn shape_str(shape: &[usize]) -> String {
    let items: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    if items.len() == 1 {
        format!("({},)", items[0])
    } else {
        format!("({})", items.join(", "))
    }
}
