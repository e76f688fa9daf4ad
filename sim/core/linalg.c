/*
 * linalg — small dense linear algebra (see linalg.h).
 */
#include "core/linalg.h"

#include <math.h>

int ms_cholesky_psd(const double *A, int n, int ld, double tol, double *L) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) L[i * ld + j] = 0.0;
  for (int j = 0; j < n; j++) {
    /* tolerances relative to the row's own scale: a legitimately tiny
     * pivot (two nearly collinear assets) is kept, only rounding is zeroed */
    const double ajj = fabs(A[j * ld + j]), eps = tol * ajj;
    double d = A[j * ld + j];
    for (int k = 0; k < j; k++) d -= L[j * ld + k] * L[j * ld + k];
    if (d < -eps) return -1 - j;
    double ljj = d > eps ? sqrt(d) : 0.0;
    L[j * ld + j] = ljj;
    for (int i = j + 1; i < n; i++) {
      double s = A[i * ld + j];
      for (int k = 0; k < j; k++) s -= L[i * ld + k] * L[j * ld + k];
      if (ljj > 0) L[i * ld + j] = s / ljj;
      else if (fabs(s) > tol * sqrt(ajj * fabs(A[i * ld + i])) + 1e-300) return -1 - j; /* zero pivot, non-zero column */
    }
  }
  return 0;
}
