/*
 * linalg — small dense linear algebra for the models (a few assets): the
 * Cholesky factor of a positive semi-definite matrix.
 */
#ifndef MS_LINALG_H
#define MS_LINALG_H

/**
 * The lower Cholesky factor @p L (n x n, row-major, stride @p ld) of the
 * symmetric positive semi-definite @p A (the same layout): A = L L^T. A
 * pivot within @p tol x its row's diagonal of 0 (a singular A, e.g. two
 * perfectly correlated assets: rounding) gives a zero column, provided the
 * rest of the column is zero too within tol x sqrt(A_ii A_jj); a small
 * positive pivot above it is kept. Returns -1 - j when A is not positive
 * semi-definite at row j (a pivot below -tol x A_jj, or a zero pivot with a
 * non-zero column), else 0.
 */
int ms_cholesky_psd(const double *A, int n, int ld, double tol, double *L);

/** The tolerance the models use: rounding of sums of a few products (1e-14 of a diagonal). */
#define MS_PSD_TOL 1e-14

#endif
