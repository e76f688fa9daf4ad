/*
 * bench_stats — time of ms_stats_compute on 10^6 synthetic summary rows
 * (every third column 90% zeros, the others exponential):
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -o /tmp/bench_stats \
 *       tests/bench/bench_stats.c build/libmarginsim.a -lgsl -lgslcblas -lyaml -lm && /tmp/bench_stats
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "output/stats.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(void){
  ms_config *cfg=NULL; ms_error e;
  const char *y="name: t\nseed: 5\npaths: 10\nhorizon: 1h\nstep: 1s\nmarket:\n  regimes:\n    - {name: calm, vol: 0.5}\n    - {name: stress, vol: 1.5}\nbook: {accounts: 10}\n";
  if (ms_config_load_string(&cfg,y,"t.yaml",NULL,0,&e)) {printf("%s\n",e.msg);return 1;}
  long n=1000000; ms_path_summary *r=calloc(n,sizeof *r); unsigned long s=1;
  ms_column cols[MS_MAX_COLUMNS]; int nc=ms_stats_columns(cfg,cols,MS_MAX_COLUMNS);
  for(long i=0;i<n;i++){ r[i].path=i; for(int c=1;c<nc;c++){ s=s*6364136223846793005ul+1442695040888963407ul; double u=((s>>11)+0.5)*0x1p-53;
    double v = (c%3==0)? (u<0.1? -log(u)*1000:0) : -log(u)*1000;
    char *p=(char*)&r[i]+cols[c].offset; if(cols[c].type==MS_COL_F64) *(double*)p=v; else *(int64_t*)p=(int64_t)v; }}
  ms_stats *st=calloc(1,sizeof *st); double t0=now();
  ms_stats_compute(st,cfg,r,n,&e); printf("%d columns, %ld paths: ms_stats_compute %.1f s\n",nc-1,n,now()-t0);
}
