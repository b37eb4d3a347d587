"""The one project-wide numba decorator (cache on, fastmath off, GIL released)."""

import numba

kernel = numba.njit(cache=True, fastmath=False, nogil=True)
