/* libFuzzer target: the config setter from text (vae_config_assign_all, as
 * --set and checkpoint headers use it). A text it accepts must finish or fail
 * cleanly, and the canonical text of a finished config must read back to the
 * same text (abort otherwise: a finding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../harness/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    vae_config c;
    vae_train_opts o;
    vae_config_default(&c);
    vae_train_opts_default(&o);
    vae_error err;
    if (vae_config_assign_all(&c, &o, text, &err) == VAE_OK && vae_config_finish(&c, &err) == VAE_OK) {
        size_t n = vae_config_text(&c, NULL, 0);
        char *a = malloc(n + 1), *b = NULL;
        vae_config_text(&c, a, n + 1);
        vae_config d;
        vae_config_default(&d);
        if (vae_config_assign_all(&d, NULL, a, &err) != VAE_OK || vae_config_finish(&d, &err))
            abort(); /* the canonical text does not read back */
        size_t m = vae_config_text(&d, NULL, 0);
        b = malloc(m + 1);
        vae_config_text(&d, b, m + 1);
        if (strcmp(a, b)) abort(); /* ... or reads back to another config */
        free(a);
        free(b);
        char t[4096];
        vae_train_opts_text(&o, t, sizeof t);
    }
    free(text);
    return 0;
}
