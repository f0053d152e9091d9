# Deletion of each school from hsb_ses_slope (mAch ~ ses + (ses | school), REML) refitted with
# tight optimiser settings, so that the group-deletion diagnostics can be compared at 1e-4 relative
# (lme4's influence.merMod uses the default tolerances: its refits stop ~1e-6..1e-5 from the optimum,
# which moves a small dfbeta by up to ~1e-3 relative). Each refit is lme4's update(..., subset =
# school != g, start = full-fit theta) as influence.merMod does, with minqa's bobyqa and rhoend =
# 1e-10 (nloptwrap given xtol_abs = 1e-12 stopped early, at a worse criterion, on school 1906).
# dfbeta, dfbetas and Cook's distance follow lme4 1.1-31's methods (cooks.distance.influence.merMod,
# dfbeta.influence.merMod, dfbetas.influence.merMod).
# Run from this directory: Rscript make_influence_tight.R  (writes hsb_ses_slope_tight.json)
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
d <- read.csv("../../../python/mixedmodels/datasets/data/Hsb82.csv")
d$school <- factor(d$school, levels = unique(d$school))
m <- lmer(mAch ~ ses + (ses | school), data = d, REML = TRUE)
ctrl <- lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                    optCtrl = list(rhobeg = 0.02, rhoend = 1e-10, maxfun = 1e5))
theta <- getME(m, "theta")
groups <- levels(d$school)
crit <- setNames(numeric(length(groups)), groups)
fix <- matrix(NA, length(groups), 2, dimnames = list(groups, names(fixef(m))))
vc <- matrix(NA, length(groups), 4, dimnames = list(groups, c("sigma^2", "v[(Intercept)]", "C[ses,(Intercept)]", "v[ses]")))
se <- fix
for (g in groups) {
  m1 <- update(m, data = d, subset = (school != g), start = list(theta = theta), control = ctrl)
  fix[g, ] <- fixef(m1)
  V <- VarCorr(m1)$school
  vc[g, ] <- c(sigma(m1)^2, V[lower.tri(V, diag = TRUE)])
  se[g, ] <- sqrt(diag(as.matrix(vcov(m1))))
  crit[g] <- REMLcrit(m1)
}
db <- fix - matrix(fixef(m), nrow(fix), 2, byrow = TRUE)
G <- nrow(db); p <- ncol(db)
vinv <- (G - p) / (G * p) * solve(as.matrix(vcov(m)))
cooks <- sapply(seq_len(G), function(i) drop(db[i, ] %*% vinv %*% db[i, ]))
names(cooks) <- groups
rows <- function(mat) lapply(setNames(seq_len(nrow(mat)), rownames(mat)), function(i) as.list(mat[i, ]))
out <- list(
  description = "hsb_ses_slope: each school deleted, refitted from the full-fit theta with minqa bobyqa, rhoend 1e-10",
  formula = "mAch ~ ses + (ses | school)", REML = TRUE,
  lme4 = as.character(packageVersion("lme4")), R = R.version.string,
  full_theta = as.list(theta), full_fixef = as.list(fixef(m)),
  deleted_order = groups, REMLcrit_deleted = as.list(crit),
  cooks_distance = as.list(cooks), dfbeta = rows(db), dfbetas = rows(db / se),
  fixed_effects_deleted = rows(fix), var_cov_comps_deleted = rows(vc))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "hsb_ses_slope_tight.json")
