/*
 * linalg — small dense linear algebra (see linalg.h).
 */
#include "core/linalg.h"

#include <math.h>

int ms_cholesky_psd(const double *A, int n, int ld, double tol, double *L) {
  double scale = 0.0;
  for (int i = 0; i < n; i++) scale = fmax(scale, fabs(A[i * ld + i]));
  const double eps = tol * (scale > 0 ? scale : 1.0);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) L[i * ld + j] = 0.0;
  for (int j = 0; j < n; j++) {
    double d = A[j * ld + j];
    for (int k = 0; k < j; k++) d -= L[j * ld + k] * L[j * ld + k];
    if (d < -eps) return -1 - j;
    double ljj = d > eps ? sqrt(d) : 0.0;
    L[j * ld + j] = ljj;
    for (int i = j + 1; i < n; i++) {
      double s = A[i * ld + j];
      for (int k = 0; k < j; k++) s -= L[i * ld + k] * L[j * ld + k];
      if (ljj > 0) L[i * ld + j] = s / ljj;
      else if (fabs(s) > eps) return -1 - j; /* a zero pivot under a non-zero column */
    }
  }
  return 0;
}
