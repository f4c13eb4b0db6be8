"""Suite-wide settings: one BLAS thread (see core.runtime.limit_blas_threads)."""
from core.runtime import limit_blas_threads

limit_blas_threads(1)
