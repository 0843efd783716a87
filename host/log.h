/* The program's one output channel: messages go to stderr and, once a run directory
 * exists, are appended to its log.txt. The progress line rewrites itself on a terminal
 * and becomes a plain periodic line everywhere else. */
#ifndef AP_LOG_H
#define AP_LOG_H

#include <stdarg.h>

int log_open(const char *path); /* appends; 0 on success */
void log_close(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* To the log file only (the configuration table is printed to stdout by the caller). */
void log_file_only(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress line: on a terminal redrawn at most every 0.2 s, otherwise written as a
 * line at most every `plain_every` seconds. force writes regardless of timing. */
void progress_line(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(void); /* ends a terminal progress line before other output */
void progress_set_plain_interval(double seconds);

#endif
