/* The config key table: defaults, the text setter and its errors, the finishing
 * rules (mirroring), the canonical text form and its round trip, and that a
 * model built from the text form is the same model. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "../harness/config.h"
#include "../harness/model.h"
#include "check.h"

static void test_defaults_and_text(void)
{
    vae_config c;
    vae_error err;
    config_from(&c, "input=2 latent=1");
    CHECK(vae_config_finish(&c, &err) == VAE_OK, "finish: %s", err.msg);
    char text[2048];
    vae_config_text(&c, text, sizeof text);
    const char *want[] = { "input=2 latent=1 hidden=100 activation=relu ", " output=sigmoid ",
                           " decoder_hidden=100 decoder_activation=relu ", " head=logvar ",
                           " likelihood=bernoulli ", " clamp=1e-07 ", " kl=true ",
                           " dropout=0 decoder_dropout=0 ", " backend=naive precision=fp32 seed=1" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(text, want[i]), "canonical text lacks '%s': %s", want[i], text);
    CHECK(text[strlen(text) - 1] != ' ', "no trailing space");

    vae_train_opts o;
    vae_train_opts_default(&o);
    vae_train_opts_text(&o, text, sizeof text);
    CHECK(strcmp(text, "epochs=1 batch=32 lr=0.001 beta1=0.9 beta2=0.999 eps=1e-07 shuffle=true "
                       "validate_every=1") == 0,
          "training text: %s", text);
    CHECK(vae_config_assign(NULL, &o, "batch=full", &err) == VAE_OK && o.batch == 0, "batch=full");
    vae_train_opts_text(&o, text, sizeof text);
    CHECK(strstr(text, "batch=full"), "full batch prints as full: %s", text);
}

/* Every key's text form reads back to the same text; a model built from the
 * canonical text has the same parameters as the original. */
static void test_round_trip(void)
{
    vae_config a, b;
    vae_error err;
    config_from(&a, "input=5 latent=3 hidden=7,6 activation=tanh,elu mean_hidden=4 "
                    "decoder_hidden=2 likelihood=gaussian_logvar output=linear "
                    "decoder_var_hidden=3,3 noise_var=0.3 beta=0.7 warmup=5 dropout=0.15 "
                    "samples=2 init=pytorch init_magnitude=1.5 seed=12345678901");
    CHECK(vae_config_finish(&a, &err) == VAE_OK, "finish: %s", err.msg);
    char ta[2048], tb[2048];
    vae_config_text(&a, ta, sizeof ta);
    config_from(&b, ta);
    CHECK(vae_config_finish(&b, &err) == VAE_OK, "finish b: %s", err.msg);
    vae_config_text(&b, tb, sizeof tb);
    CHECK(strcmp(ta, tb) == 0, "round trip:\n#   %s\n#   %s", ta, tb);
    CHECK(a.dec_dropout == 0.15f && a.seed == 12345678901ull && a.noise_var == 0.3f,
          "values: %g %llu", a.dec_dropout, (unsigned long long)a.seed);
    vae_model *ma = vae_model_new(&a, &err), *mb = vae_model_new(&b, &err);
    CHECK(ma && mb, "models: %s", err.msg);
    if (ma && mb) {
        size_t na, nb;
        const float *pa = vae_model_params(ma, &na), *pb = vae_model_params(mb, &nb);
        CHECK(na == nb && memcmp(pa, pb, na * sizeof *pa) == 0, "same parameters (%zu, %zu)", na,
              nb);
    }
    vae_model_free(ma);
    vae_model_free(mb);
    /* the shortest float text that reads back exactly */
    config_from(&a, "input=1 latent=1 beta=0.1");
    char v[64];
    vae_key_format(vae_key_find("beta"), &a, v, sizeof v);
    CHECK(strcmp(v, "0.1") == 0, "beta prints as %s", v);
}

static void test_finishing_rules(void)
{
    vae_config c;
    vae_error err;
    /* widths mirrored with their activations */
    config_from(&c, "input=3 latent=2 hidden=5,4 activation=tanh,elu");
    CHECK(vae_config_finish(&c, &err) == VAE_OK, "%s", err.msg);
    CHECK(c.dec.n == 2 && c.dec.width[0] == 4 && c.dec.width[1] == 5 &&
              c.dec.act[0] == VAE_ACT_ELU && c.dec.act[1] == VAE_ACT_TANH,
          "mirrored decoder");
    /* given decoder widths take the encoder's first activation */
    config_from(&c, "input=3 latent=2 hidden=5,4 activation=tanh,elu decoder_hidden=9,8,7");
    CHECK(vae_config_finish(&c, &err) == VAE_OK, "%s", err.msg);
    CHECK(c.dec.n == 3 && c.dec.act[2] == VAE_ACT_TANH, "given widths: act %d", c.dec.act[2]);
    /* one activation for all; heads take their trunk's first; dropout follows */
    config_from(&c, "input=3 latent=2 hidden=5,4 activation=softplus mean_hidden=2,2 "
                    "decoder_activation=relu decoder_mean_hidden=6 dropout=0.25");
    CHECK(vae_config_finish(&c, &err) == VAE_OK, "%s", err.msg);
    CHECK(c.enc.act[1] == VAE_ACT_SOFTPLUS && c.enc_mean.act[1] == VAE_ACT_SOFTPLUS &&
              c.dec_mean.act[0] == VAE_ACT_RELU && c.dec_dropout == 0.25f,
          "broadcasts");
    /* an empty list: no hidden layers */
    config_from(&c, "input=3 latent=2 hidden=");
    CHECK(vae_config_finish(&c, &err) == VAE_OK && c.enc.n == 0 && c.dec.n == 0, "no layers");
    /* finishing twice changes nothing */
    config_from(&c, "input=3 latent=2 hidden=5,4");
    vae_config_finish(&c, &err);
    vae_config d = c;
    vae_config_finish(&d, &err);
    CHECK(memcmp(&c, &d, sizeof c) == 0, "finish is idempotent");
}

/* Each bad text is refused with a message naming the key (and the allowed values). */
static void test_errors_name_the_key(void)
{
    static const struct { const char *text, *want[2]; } cases[] = {
        { "latent=0", { "key 'latent'", "[1, 100000]" } },
        { "latent=2.5", { "key 'latent'", "integer" } },
        { "hidden=5,0", { "key 'hidden': item 2", "width" } },
        { "hidden=5,x", { "key 'hidden': item 2", "'x'" } },
        { "hidden=1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", { "key 'hidden'", "at most 16" } },
        { "activation=swish", { "key 'activation'", "allowed: linear, relu" } },
        { "likelihood=poisson", { "key 'likelihood'", "gaussian_logvar" } },
        { "head=diag", { "key 'head'", "shared" } },
        { "dropout=1", { "key 'dropout'", "[0, 1)" } },
        { "noise_var=0", { "key 'noise_var'", "(0, " } },
        { "clamp=nan", { "key 'clamp'", "'nan'" } },
        { "kl=yes", { "key 'kl'", "true or false" } },
        { "backend=cuda", { "key 'backend'", "naive" } },
        { "seed=-1", { "key 'seed'", ">= 0" } },
        { "lr=0", { "key 'lr'", "(0, 10]" } },
        { "batch=half", { "key 'batch'", "or full" } },
        { "widths=3", { "unknown key 'widths'", "allowed: input, latent" } },
        { "latent", { "'latent'", "key=value" } },
        { "=3", { "'=3'", "key=value" } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vae_config c;
        vae_train_opts o;
        vae_error err;
        vae_config_default(&c);
        vae_train_opts_default(&o);
        int rc = vae_config_assign(&c, &o, cases[i].text, &err);
        CHECK(rc == VAE_FAIL, "'%s' accepted", cases[i].text);
        for (int j = 0; j < 2 && rc == VAE_FAIL; j++)
            CHECK(strstr(err.msg, cases[i].want[j]), "'%s': message '%s' lacks '%s'", cases[i].text,
                  err.msg, cases[i].want[j]);
    }
    /* a section that is not wanted is refused by name */
    vae_config c;
    vae_error err;
    vae_config_default(&c);
    CHECK(vae_config_assign(&c, NULL, "lr=0.1", &err) == VAE_FAIL && strstr(err.msg, "training"),
          "training key without training options: %s", err.msg);
    /* cross-key rules, after finishing */
    static const struct { const char *text, *want; } cross[] = {
        { "input=2 latent=1", NULL },
        { "latent=1", "key 'input' is required" },
        { "input=2 latent=1 output=tanh", "needs output = 'sigmoid'" },
        { "input=2 latent=1 head=shared var_hidden=3", "key 'var_hidden'" },
        { "input=2 latent=1 decoder_var_hidden=3", "key 'decoder_var_hidden'" },
        { "input=2 latent=1 hidden=3,3 activation=relu,tanh,elu", "lists 3 activations for 2" },
        { "input=2 latent=1 mean_hidden=4 mean_activation=tanh,tanh", "key 'mean_activation'" },
    };
    for (size_t i = 0; i < sizeof cross / sizeof cross[0]; i++) {
        config_from(&c, cross[i].text);
        int rc = vae_config_finish(&c, &err);
        if (!cross[i].want) CHECK(rc == VAE_OK, "'%s': %s", cross[i].text, err.msg);
        else
            CHECK(rc == VAE_FAIL && strstr(err.msg, cross[i].want), "'%s': got '%s'",
                  cross[i].text, rc ? err.msg : "accepted");
    }
    /* every seed reads back as it prints; list items are refused, not cut */
    config_from(&c, "input=2 latent=1 seed=18446744073709551615");
    CHECK(c.seed == UINT64_MAX, "the largest seed: %llu", (unsigned long long)c.seed);
    char big[128] = "hidden=";
    for (int i = 0; i < 70; i++) strcat(big, "0");
    strcat(big, "5");
    vae_config_default(&c);
    CHECK(vae_config_assign(&c, NULL, big, &err) == VAE_FAIL && strstr(err.msg, "64 characters"),
          "a 71-character width: %s", err.msg);
    CHECK(vae_config_assign(&c, NULL, "seed=-0", &err) == VAE_FAIL, "a negative seed");
    /* a struct filled by C code is range-checked too */
    config_from(&c, "input=2 latent=1");
    c.samples = 0;
    CHECK(vae_config_finish(&c, &err) == VAE_FAIL && strstr(err.msg, "key 'samples'"),
          "C-set field: %s", err.msg);
}

/* The table's help, types and defaults are complete. */
static void test_table(void)
{
    int model = 0, train = 0;
    for (int i = 0; i < vae_key_count(); i++) {
        const vae_key *k = vae_key_at(i);
        CHECK(k->help && *k->help, "key '%s' has help", k->name);
        CHECK(vae_key_find(k->name) == k, "key '%s' found by name (no duplicate)", k->name);
        model += k->section == VAE_SECTION_MODEL;
        train += k->section == VAE_SECTION_TRAIN;
    }
    CHECK(model > 20 && train == 8, "sections: %d model keys, %d training keys", model, train);
    CHECK(!vae_key_find("threads"), "threads are process-level, not a model key");
}

const test_case config_tests[] = {
    { "config: defaults and the canonical text", test_defaults_and_text },
    { "config: text round trip builds the same model", test_round_trip },
    { "config: finishing rules (mirroring, broadcasts)", test_finishing_rules },
    { "config: bad keys and values name the key", test_errors_name_the_key },
    { "config: the key table", test_table },
    { NULL, NULL }
};
