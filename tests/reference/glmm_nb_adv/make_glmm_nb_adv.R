## lme4 1.1-31's glmer.nb with nAGQ > 1 and update() of a glmer.nb fit, on the adversarial pass's data
## (adv_nb.csv: 800 rows, 40 groups g, y ~ NB(size = 2, mu = exp(0.5 + 0.3 x + b_g)), b_g ~ N(0, 0.5^2),
## drawn by NumPy (default_rng(2)) as /work/prompts/s25/adv/a_nb.py does), for
## tests/reference/test_glmer_nb_adv.py.  Run: Rscript make_glmm_nb_adv.R  (writes glmm_nb_adv.json here)
suppressPackageStartupMessages({ library(lme4); library(MASS); library(jsonlite) })
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
d <- read.csv(file.path(here, "adv_nb.csv")); d$g <- factor(d$g)
form <- y ~ x + (1 | g)
tight_ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = c("bobyqa", "bobyqa"),
                           optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
## the saturated model's log-likelihood of negative.binomial(theta): lme4's nAGQ > 1 deviance leaves it out
sat <- function(y, th) sum(dnbinom(y, size = th, mu = y, log = TRUE))
info <- function(m, y) {
  ll <- logLik(m); th <- getME(m, "glmer.nb.theta"); q <- m@devcomp$dims[["nAGQ"]]
  list(nb_theta = th, nAGQ = q, theta = unname(getME(m, "theta")), fixef = as.list(fixef(m)),
       logLik = as.numeric(ll), logLik_df = attr(ll, "df"), loglik_saturated = sat(y, th),
       logLik_full = as.numeric(ll) + if (q > 1) sat(y, th) else 0,
       family = family(m)$family, conv_messages = m@optinfo$conv$lme4$messages,
       call = paste(deparse(getCall(m)), collapse = " "))
}
## lme4's glmer.nb as it is, nAGQ = 1, 2, 5
default_nagq <- lapply(c(1, 2, 5), function(q) info(glmer.nb(form, data = d, nAGQ = q), d$y))
names(default_nagq) <- paste0("nAGQ", c(1, 2, 5))
## the maximum over theta of the full log-likelihood (lme4's logLik plus the saturated term for nAGQ > 1),
## glmer fits with tight controls at each theta, optimize() on log(theta) to 1e-9
full_profile <- function(q, form = y ~ x + (1 | g)) {
  fit_at <- function(t) glmer(form, data = d, family = negative.binomial(theta = exp(t)), nAGQ = q, control = tight_ctrl)
  crit <- function(t) { m <- fit_at(t); -2 * (as.numeric(logLik(m)) + if (q > 1) sat(d$y, exp(t)) else 0) }
  opt <- optimize(crit, interval = log(c(0.05, 50)), tol = 1e-9)
  info(fit_at(opt$minimum), d$y)
}
full <- lapply(c(1, 2, 5), full_profile); names(full) <- paste0("nAGQ", c(1, 2, 5))
## the same for y ~ 1 + (1 | g) with nAGQ = 5: the likelihood-ratio test of the two full maxima
full$intercept_nAGQ5 <- full_profile(5, y ~ 1 + (1 | g))
full$lrt_nAGQ5 <- 2 * (full$nAGQ5$logLik_full - full$intercept_nAGQ5$logLik_full)
## glmer.nb's steps by hand, tight (as ../glmm_nb/make_glmm_nb.R)
tight_nb <- function(f, dd) {
  g0 <- glmer(f, data = dd, family = poisson, control = tight_ctrl)
  th0 <- lme4:::est_theta(g0, limit = 20, eps = 2e-9)
  g1 <- eval(bquote(glmer(f, data = dd, family = MASS::negative.binomial(theta = .(th0)), control = tight_ctrl)))
  lme4:::optTheta(g1, interval = log(th0) + c(-3, 3), tol = 1e-9, verbose = FALSE, control = c(tight_ctrl))
}
## update() of a glmer.nb fit: lme4 1.1-31 refits glmer with negative.binomial(theta) of the old fit
m <- glmer.nb(form, data = d)
d400 <- d[1:400, ]
u_data <- update(m, data = d400)
u_form <- update(m, . ~ 1 + (1 | g))
nb_data <- glmer.nb(form, data = d400)
nb_form <- glmer.nb(y ~ 1 + (1 | g), data = d)
an <- function(a) list(rownames = rownames(a), npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik,
                       deviance = a$deviance, Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]])
mt <- tight_nb(form, d)
update_cases <- list(
  default_fit = info(m, d$y),
  lme4_update_data = info(u_data, d400$y), lme4_update_formula = info(u_form, d$y),
  glmer_nb_data = info(nb_data, d400$y), glmer_nb_formula = info(nb_form, d$y),
  tight_fit = info(mt, d$y), tight_glmer_nb_data = info(tight_nb(form, d400), d400$y),
  tight_glmer_nb_formula = info(tight_nb(y ~ 1 + (1 | g), d), d$y),
  tight_fixed_theta_data = info(glmer(form, data = d400, family = negative.binomial(theta = getME(mt, "glmer.nb.theta")),
                                      control = tight_ctrl), d400$y),
  tight_fixed_theta_formula = info(glmer(y ~ 1 + (1 | g), data = d, family = negative.binomial(theta = getME(mt, "glmer.nb.theta")),
                                         control = tight_ctrl), d$y),
  anova_update_formula = an(anova(m, u_form)), anova_glmer_nb_formula = an(anova(m, nb_form)))
out <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            MASS = as.character(packageVersion("MASS"))),
            formula = deparse1(form), default_nagq = default_nagq, full_profile = full, update = update_cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), file.path(here, "glmm_nb_adv.json"))
