/* libFuzzer: an experiment file (the INI reader, keys, values, sweeps, the model's checks)
 * from arbitrary bytes must end in AP_OK or one error message: no crash, leak, or hang.
 * tools/fuzz.sh runs it over tests/fuzz/corpus/ini. */
#include "host/config.h"
#include "host/ini.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  config_limit_replicas(20000); /* sweeps past this are refused like past the real limit */
  Ini ini = {0};
  ApError err = {{0}};
  ApExperiment ex;
  if (!ini_parse_text(&ini, text, "fuzz.ini", &err) && !config_build(&ex, &ini, "fuzz.ini", &err)) {
    char *dump = config_dump(&ex);
    free(dump);
    config_free(&ex);
  }
  ini_free(&ini);
  free(text);
  return 0;
}
