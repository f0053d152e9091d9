## lme4 1.1-31 profile intervals of a glmer fit with a correlated random slope (Poisson), on a
## simulated data set written beside (sim_pois_slope.csv). Run from this folder:
## Rscript make_profile_slope.R  (writes sim_pois_slope.csv and pois_slope_profile.json)
suppressMessages(library(lme4))
set.seed(20261202)
ng <- 60; per <- 15
g <- rep(seq_len(ng), each = per)
x <- round(runif(ng * per, -1, 1), 6)
b0 <- rnorm(ng, sd = 0.6); b1 <- 0.3 * b0 / 0.6 * 0.4 + rnorm(ng, sd = 0.4 * sqrt(1 - 0.09))
y <- rpois(ng * per, exp(0.5 + 0.4 * x + b0[g] + b1[g] * x))
d <- data.frame(y = y, x = x, g = factor(sprintf("g%02d", g)))
write.csv(d, "sim_pois_slope.csv", row.names = FALSE)
m <- glmer(y ~ x + (1 + x | g), d, family = poisson)
ci <- confint(m, method = "profile")
print(ci, digits = 10)
cat(jsonlite::toJSON(list(formula = "y ~ x + (1 + x | g)", family = "poisson", rows = rownames(ci),
                          lower = ci[, 1], upper = ci[, 2], theta = unname(getME(m, "theta")),
                          fixef = unname(fixef(m)), logLik = as.numeric(logLik(m)),
                          warnings = m@optinfo$conv$lme4$messages), digits = NA),
    file = "pois_slope_profile.json")
