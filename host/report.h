/* apical report RUN: the run's HTML page. The page is drawn by the Python package
 * (python/apical/report.py, with matplotlib); the program finds a Python that can import it
 * and hands the command over, so that `apical report` works wherever the run's program does. */
#ifndef AP_REPORT_H
#define AP_REPORT_H

/* argv[1] is "report"; returns an exit code only where no Python could take over (it
 * replaces the process otherwise). */
int report_command(int argc, char **argv);

#endif
