/*
 * linalg — small dense linear algebra for the models (a few assets): the
 * Cholesky factor of a positive semi-definite matrix.
 */
#ifndef MS_LINALG_H
#define MS_LINALG_H

/**
 * The lower Cholesky factor @p L (n x n, row-major, stride @p ld) of the
 * symmetric positive semi-definite @p A (the same layout): A = L L^T. A
 * zero pivot (a singular A, e.g. two perfectly correlated assets) gives a
 * zero column, provided the rest of the column is zero too within
 * @p tol x the diagonal's scale. Returns -1 - j when A is not positive
 * semi-definite at row j (a pivot below -tol x scale, or a zero pivot with
 * a non-zero column), else 0.
 */
int ms_cholesky_psd(const double *A, int n, int ld, double tol, double *L);

#endif
