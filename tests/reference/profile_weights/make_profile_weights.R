# lme4 1.1-31 profile intervals of weighted lmer fits (REML and ML) on sleepstudy with
# weights w (uniform 0.5-2, rounded to 3 digits, drawn with NumPy; stored in sleepstudy_weights.csv).
# Run from this directory: Rscript make_profile_weights.R  (writes profile_weights.json)
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
d <- read.csv("sleepstudy_weights.csv")
d$Subject <- factor(d$Subject)
out <- list(lme4 = as.character(packageVersion("lme4")))
for (reml in c(TRUE, FALSE)) {
  m <- lmer(Reaction ~ Days + (Days | Subject), d, weights = w, REML = reml,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-4, rhoend = 2e-11)))
  ci <- confint(m, method = "profile", oldNames = TRUE)
  key <- if (reml) "REML" else "ML"
  out[[key]] <- list(objective = as.numeric(-2 * logLik(m)), names = rownames(ci),
                     lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}
writeLines(toJSON(out, digits = 15, auto_unbox = TRUE, pretty = TRUE), "profile_weights.json")
