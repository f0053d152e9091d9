## lme4's glmer.nb (negative binomial GLMM, theta estimated) on grouseticks and on a simulated data
## set (written to sim_nb.csv by this script), for tests/reference/test_glmer_nb.py.
## Run: Rscript make_glmm_nb.R  (writes glmm_nb.json and sim_nb.csv next to this script)
## Each case: lme4's defaults, and a "tight" fit (inner PIRLS converged, tolPwrss = 1e-12; bobyqa
## rhoend 1e-10 in both stages; optimize() over log(theta) to tol 1e-9) to compare a converged solver with.
suppressPackageStartupMessages({ library(lme4); library(MASS); library(jsonlite) })
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
set.seed(20261202)
ng <- 40; per <- 15
g <- rep(seq_len(ng), each = per)
x <- round(rnorm(ng * per), 6)
b <- rnorm(ng, sd = 0.6)
y <- rnbinom(ng * per, size = 1.7, mu = exp(0.4 + 0.5 * x + b[g]))
sim <- data.frame(y = y, x = x, g = factor(sprintf("g%02d", g)))
write.csv(sim, file.path(here, "sim_nb.csv"), row.names = FALSE)

tight_ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = c("bobyqa", "bobyqa"),
                           optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
info <- function(m) {
  ll <- logLik(m)
  list(nb_theta = getME(m, "glmer.nb.theta"), theta = as.list(getME(m, "theta")), fixef = as.list(fixef(m)),
       fixef_se = as.list(sqrt(diag(as.matrix(vcov(m))))), logLik = as.numeric(ll), logLik_df = attr(ll, "df"),
       AIC = AIC(m), BIC = BIC(m), deviance = deviance(m), df_resid = df.residual(m), sigma = sigma(m),
       family = family(m)$family, nobs = nobs(m),
       conv_messages = m@optinfo$conv$lme4$messages, nevals = attr(m, "nevals"))
}
case <- function(form, d, data_name) {
  m <- glmer.nb(form, data = d)
  # lme4 1.1-31's glmer.nb hands its own `tol` on to glmer (an error), so the tight fit repeats
  # glmer.nb's steps by hand with the same internal functions: a Poisson fit, est_theta, optTheta
  g0 <- glmer(form, data = d, family = poisson, control = tight_ctrl)
  th0 <- lme4:::est_theta(g0, limit = 20, eps = 2e-9)
  g1 <- eval(bquote(glmer(form, data = d, family = MASS::negative.binomial(theta = .(th0)), control = tight_ctrl)))
  mt <- lme4:::optTheta(g1, interval = log(th0) + c(-3, 3), tol = 1e-9, verbose = FALSE, control = c(tight_ctrl))
  # the Laplace -2 logLik at lme4's estimates of a fit with a fixed theta: a check of the family's pieces
  fixed <- glmer(form, data = d, family = negative.binomial(theta = getME(mt, "glmer.nb.theta")), control = tight_ctrl)
  list(formula = deparse1(form), dataset = data_name, default = info(m), tight = info(mt),
       fixed_theta = list(nb_theta = getME(mt, "glmer.nb.theta"), info = info(fixed)),
       fitted_first10 = unname(head(fitted(mt), 10)))
}
fam <- MASS::negative.binomial(theta = 2.5)
tml_y <- c(0, 0, 5, 1, 14, 0, 3, 8, 0, 2); tml_mu <- c(2, 1.5, 3, 2, 5, 1, 2.5, 3, 1, 2); tml_w <- c(1, 2, 1, 1, 0.5, 1, 3, 1, 1, 2)
fy <- c(0, 1, 3, 7, 12, 0, 2.5); fmu <- c(0.4, 1.2, 2.5, 6, 15, 2, 3); fwt <- c(1, 1, 2, 1, 0.5, 1, 1)
family_checks <- list(theta = 2.5, y = fy, mu = fmu, wt = fwt, variance = fam$variance(fmu), tml_y = tml_y, tml_mu = tml_mu, tml_w = tml_w,
                      dev_resids = fam$dev.resids(fy, fmu, fwt),
                      aic = fam$aic(fy, rep(1, length(fy)), fmu, fwt, sum(fam$dev.resids(fy, fmu, fwt))),
                      theta_ml = as.numeric(MASS::theta.ml(tml_y, tml_mu)),
                      theta_ml_weighted = as.numeric(MASS::theta.ml(tml_y, tml_mu, weights = tml_w, limit = 20, eps = 1e-8)))
out <- list(
  family_checks = family_checks,
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  MASS = as.character(packageVersion("MASS"))),
  grouseticks = case(TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION), grouseticks, "grouseticks"),
  sim_nb = case(y ~ x + (1 | g), sim, "sim_nb")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), file.path(here, "glmm_nb.json"))
