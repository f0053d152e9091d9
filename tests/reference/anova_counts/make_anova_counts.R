# anova(Poisson glmer fit, glmer.nb fit) of grouseticks, TICKS ~ YEAR + (1 | LOCATION), nAGQ = 1:
# lme4 1.1-31's likelihood-ratio table, and both fits at tight controls (the reference optimum).
# Run from this directory: Rscript make_anova_counts.R  (writes anova_counts.json)
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
d <- read.csv("../../../../shared/data/grouseticks.csv")
d$YEAR <- factor(d$YEAR); d$LOCATION <- factor(d$LOCATION)
f <- TICKS ~ YEAR + (1 | LOCATION)
p <- glmer(f, d, family = poisson)
nb <- glmer.nb(f, d)
a <- anova(p, nb)
tight <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.1, rhoend = 1e-10, maxfun = 1e5), tolPwrss = 1e-12)
pt <- glmer(f, d, family = poisson, control = tight)
nbt <- glmer.nb(f, d, control = tight)
at <- anova(pt, nbt)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  formula = deparse(f),
  default = list(npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
                 Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2], nb_theta = getME(nb, "glmer.nb.theta")),
  tight = list(npar = at$npar, AIC = at$AIC, BIC = at$BIC, logLik = at$logLik, deviance = at$deviance,
               Chisq = at$Chisq[2], Df = at$Df[2], p = at[["Pr(>Chisq)"]][2], nb_theta = getME(nbt, "glmer.nb.theta"))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "anova_counts.json")
