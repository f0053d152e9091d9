## lme4's refits of cbpp's binomial GLMM to fixed simulated responses: the refit half of bootMer,
## deterministic because the responses come from a file (cbpp_simulated_incidence.csv, drawn once by
## mixedmodels' GlmerResult.simulate(nsim = 20, seed = 20261202) and stored as incidence counts).
## bootMer's own draws use R's RNG, which no other program reproduces, so the refits are compared
## instead. Two sets: lme4's default control (refit(), as bootMer calls it) and a refit with the
## inner PIRLS converged (tolPwrss = 1e-12) and tight bobyqa, to compare a converged solver with.
## Run: Rscript make_glmm_boot_reference.R  (writes glmm_boot_refits.json next to this script)
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
sims <- read.csv(file.path(here, "cbpp_simulated_incidence.csv"))
stopifnot(nrow(sims) == nrow(cbpp))
form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
m <- glmer(form, data = cbpp, family = binomial)
tight_ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = c("bobyqa", "bobyqa"),
                           optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
mt <- glmer(form, data = cbpp, family = binomial, control = tight_ctrl)
one <- function(fit) list(sig01 = unname(getME(fit, "theta")), fixef = as.list(fixef(fit)),
                          logLik = as.numeric(logLik(fit)),
                          conv = length(fit@optinfo$conv$lme4$messages) == 0)
default <- list(); tight <- list()
for (j in seq_len(ncol(sims))) {
  k <- sims[[j]]
  newresp <- cbind(k, cbpp$size - k)
  default[[j]] <- one(suppressWarnings(refit(m, newresp)))
  d <- cbpp; d$incidence <- k
  tight[[j]] <- one(suppressWarnings(glmer(form, data = d, family = binomial, control = tight_ctrl,
                                            start = list(theta = getME(m, "theta"), fixef = fixef(m)))))
}
out <- list(
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  formula = deparse1(form), dataset = "cbpp", nsim = ncol(sims),
  fit = one(m), fit_tight = one(mt),
  refit_default = default, refit_tight = tight,
  cbpp_incidence = cbpp$incidence, cbpp_herd = as.character(cbpp$herd), cbpp_period = as.character(cbpp$period)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "glmm_boot_refits.json"))
