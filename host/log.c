#include "log.h"

#include "kernels/backend.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static FILE *g_file;
static int g_line_open;
static double g_last, g_last_file, g_plain_every = 10.0;

int log_open(const char *path) {
  log_close();
  g_file = fopen(path, "a");
  return g_file ? 0 : -1;
}

void log_close(void) {
  if (g_file) fclose(g_file);
  g_file = NULL;
}

static void stamp(FILE *f) {
  char buf[32];
  time_t t = time(NULL);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", localtime(&t));
  fprintf(f, "[%s] ", buf);
}

void progress_end(void) {
  if (g_line_open) {
    fputc('\n', stderr);
    g_line_open = 0;
  }
}

void log_msg(const char *fmt, ...) {
  progress_end();
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (g_file) {
    stamp(g_file);
    va_start(ap, fmt);
    vfprintf(g_file, fmt, ap);
    va_end(ap);
    fputc('\n', g_file);
    fflush(g_file);
  }
}

void log_file_only(const char *fmt, ...) {
  if (!g_file) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(g_file, fmt, ap);
  va_end(ap);
  fflush(g_file);
}

void progress_set_plain_interval(double seconds) { g_plain_every = seconds; }

void progress_line(int force, const char *fmt, ...) {
  double t = ap_seconds();
  int tty = isatty(STDERR_FILENO);
  if (!force && t - g_last < (tty ? 0.2 : g_plain_every)) return;
  g_last = t;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (tty) {
    fprintf(stderr, "\r\033[K%s", line);
    g_line_open = 1;
  } else {
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);
  if (g_file && (force || t - g_last_file >= g_plain_every)) {
    g_last_file = t;
    stamp(g_file);
    fprintf(g_file, "%s\n", line);
    fflush(g_file);
  }
}
