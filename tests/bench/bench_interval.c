/*
 * bench_interval — time of one mean interval and one ES99 interval on n values
 * of which a fraction are nonzero (lognormal-ish), e.g. at 10^6 paths:
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -o /tmp/bench_interval \
 *       tests/bench/bench_interval.c build/libmarginsim.a -lgsl -lgslcblas -lm
 *   /tmp/bench_interval 1000000 1.0     # every value nonzero
 *   /tmp/bench_interval 1000000 0.1     # 10% nonzero (zero-inflated)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "output/interval.h"
static int cmp(const void *a, const void *b){double x=*(const double*)a,y=*(const double*)b;return (x>y)-(x<y);}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){
  long n=atol(argv[1]); double frac=atof(argv[2]);
  double *x=malloc(n*sizeof *x); unsigned long s=1;
  for(long i=0;i<n;i++){s=s*6364136223846793005ul+1442695040888963407ul; double u=((s>>11)+0.5)*0x1p-53;
    s=s*6364136223846793005ul+1442695040888963407ul; double v=((s>>11)+0.5)*0x1p-53;
    x[i]= u<frac ? exp(2*sqrt(-2*log(v))) : 0;}
  qsort(x,n,sizeof *x,cmp);
  ms_error e; double lo,hi,t0=now();
  ms_interval_mean(x,n,1,1,0.95,&lo,&hi,&e); double t1=now();
  ms_interval_es(x,n,1,1,2,0.95,&lo,&hi,&e); double t2=now();
  printf("n=%ld nonzero=%.2f mean interval %.2f s, es99 interval %.3f s\n",n,frac,t1-t0,t2-t1);
}
