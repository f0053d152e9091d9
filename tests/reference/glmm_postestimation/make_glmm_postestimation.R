## Reference values for post-estimation of glmer fits (emmeans, predictions with SEs, R2/ICC for
## Poisson, car's Wald tables, drop1, influence). Run: Rscript make_glmm_postestimation.R
## Writes glmm_postestimation.json next to this script.
suppressPackageStartupMessages({
  library(lme4); library(emmeans); library(jsonlite); library(car); library(performance); library(insight)
})
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
tab <- function(x) { d <- as.data.frame(x); rownames(d) <- NULL; for (n in names(d)) if (is.factor(d[[n]])) d[[n]] <- as.character(d[[n]]); list(columns = names(d), rows = d) }
anova_tab <- function(a) { d <- as.data.frame(a); d <- cbind(term = rownames(d), d); rownames(d) <- NULL; list(columns = names(d), rows = d) }
## fits with the inner PIRLS converged (so that another program's modes at these estimates agree)
tight <- function(call_expr) {
  for (tp in c(1e-12, 1e-10)) {
    m <- tryCatch(suppressWarnings(eval(call_expr)), error = function(e) NULL)
    if (!is.null(m)) return(list(m = m, tolPwrss = tp))
  }
  stop("no fit")
}
fit_info <- function(m) list(theta = unname(getME(m, "theta")), fixef = as.list(fixef(m)),
  vcov = unname(as.matrix(vcov(m))), vcov_names = colnames(vcov(m)), logLik = as.numeric(logLik(m)),
  formula = deparse1(formula(m)))

## hand-computed prediction SEs: population from vcov(m); conditional from the inverse of the joint
## PIRLS system at the modes, M = [[L'Z'WZL + I, L'Z'WX], [X'WZL, X'WX]] (W the working weights), times sigma^2
pred_se <- function(m, rows) {
  X <- getME(m, "X"); Z <- as.matrix(getME(m, "Z")); L <- as.matrix(getME(m, "Lambda"))
  w <- m@resp$sqrtWrkWt()^2
  ZL <- Z %*% L
  M <- rbind(cbind(t(ZL) %*% (w * ZL) + diag(ncol(ZL)), t(ZL) %*% (w * X)), cbind(t(X) %*% (w * ZL), t(X) %*% (w * X)))
  Minv <- solve(M) * sigma(m)^2
  A <- cbind(ZL, X)[rows, , drop = FALSE]
  eta_c <- predict(m, type = "link")[rows]; eta_p <- predict(m, type = "link", re.form = NA)[rows]
  se_c <- sqrt(rowSums((A %*% Minv) * A))
  Xr <- X[rows, , drop = FALSE]; se_p <- sqrt(rowSums((Xr %*% as.matrix(vcov(m))) * Xr))
  fam <- family(m); z <- qnorm(0.975)
  one <- function(eta, se) list(rows_1based = rows, fit_link = unname(eta), se_link = unname(se),
    lower_link = unname(eta - z * se), upper_link = unname(eta + z * se),
    fit_response = unname(fam$linkinv(eta)), se_response = unname(fam$mu.eta(eta) * se),
    lower_response = unname(fam$linkinv(eta - z * se)), upper_response = unname(fam$linkinv(eta + z * se)))
  list(note = "hand computation (lme4 1.1-31 has no se.fit for glmer): population se^2 = x' vcov(m) x; conditional se^2 = sigma^2 a' M^-1 a, a = (Lambda' z, x), M the joint PIRLS system at the modes; response scale: mu.eta(eta) * se, interval linkinv(eta -/+ qnorm(0.975) se)",
       population = one(eta_p, se_p), conditional = one(eta_c, se_c))
}
emm_block <- function(m, spec, trend = NULL) {
  out <- list()
  e <- emmeans(m, spec); out$link <- tab(summary(e)); out$link_linfct <- unname(e@linfct)
  er <- emmeans(m, spec, type = "response"); out$response <- tab(summary(er))
  out$response_infer_both <- tab(summary(er, infer = c(TRUE, TRUE)))
  out$pairs_link <- tab(summary(pairs(e), infer = c(TRUE, TRUE)))
  out$pairs_response <- tab(summary(pairs(er), infer = c(TRUE, TRUE)))
  out$pairs_response_default <- tab(summary(pairs(er)))
  out$pairs_response_reverse <- tab(summary(pairs(er, reverse = TRUE), infer = c(TRUE, TRUE)))
  out$trt_vs_ctrl_response <- tab(summary(contrast(er, "trt.vs.ctrl"), infer = c(TRUE, TRUE)))
  out$regrid <- tab(summary(regrid(e)))
  out$pairs_regrid <- tab(summary(pairs(regrid(e)), infer = c(TRUE, TRUE)))
  out$messages <- capture.output(print(er))
  out
}
res <- list(software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  emmeans = as.character(packageVersion("emmeans")), performance = as.character(packageVersion("performance")),
  insight = as.character(packageVersion("insight")), car = as.character(packageVersion("car"))))

## ---- cbpp, binomial
f1 <- tight(quote(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial,
                        control = glmerControl(tolPwrss = tp))))
m1 <- f1$m
cb <- list(fit = c(fit_info(m1), tolPwrss = f1$tolPwrss))
cb$emmeans <- emm_block(m1, ~ period)
cb$predictions <- pred_se(m1, 1:56)
cb$car_type2 <- anova_tab(Anova(m1, type = 2)); cb$car_type3 <- anova_tab(Anova(m1, type = 3))
d1 <- drop1(m1, test = "Chisq"); cb$drop1 <- anova_tab(d1)
cb$r2 <- as.list(unlist(r2_nakagawa(m1))); cb$icc <- as.list(unlist(icc(m1)))
cb$hatvalues <- unname(hatvalues(m1)); cb$cooks_distance <- unname(cooks.distance(m1))
res$cbpp_binomial <- cb

## ---- grouseticks, Poisson
f2 <- tight(quote(glmer(TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = grouseticks,
                        family = poisson, control = glmerControl(tolPwrss = tp))))
m2 <- f2$m
gt <- list(fit = c(fit_info(m2), tolPwrss = f2$tolPwrss))
gt$emmeans <- emm_block(m2, ~ YEAR)
gt$emtrends_link <- tab(summary(emtrends(m2, ~ YEAR, var = "HEIGHT")))
gt$emtrends_link_linfct <- unname(emtrends(m2, ~ YEAR, var = "HEIGHT")@linfct)
gt$predictions <- pred_se(m2, c(1:20, 200:210, 390:403))
gt$car_type2 <- anova_tab(Anova(m2, type = 2)); gt$car_type3 <- anova_tab(Anova(m2, type = 3))
gt$drop1 <- anova_tab(drop1(m2, test = "Chisq"))
v <- suppressWarnings(get_variance(m2)); gt$get_variance <- as.list(unlist(v))
nm <- suppressWarnings(insight::null_model(m2)); gt$null_model <- fit_info(nm)
gt$r2 <- as.list(unlist(suppressWarnings(r2_nakagawa(m2)))); gt$icc <- as.list(unlist(suppressWarnings(icc(m2))))
res$grouseticks_poisson <- gt

## ---- a simple Poisson model (one random intercept), and Poisson with an offset in the formula
m3 <- glmer(TICKS ~ YEAR + (1 | BROOD), data = grouseticks, family = poisson, control = glmerControl(tolPwrss = 1e-12))
p3 <- list(fit = fit_info(m3))
v3 <- suppressWarnings(get_variance(m3)); p3$get_variance <- as.list(unlist(v3))
p3$null_model <- fit_info(suppressWarnings(insight::null_model(m3)))
p3$r2 <- as.list(unlist(suppressWarnings(r2_nakagawa(m3)))); p3$icc <- as.list(unlist(suppressWarnings(icc(m3))))
p3$icc_by_group <- tab(suppressWarnings(icc(m3, by_group = TRUE)))
res$grouseticks_simple <- p3

m4 <- glmer(incidence ~ period + offset(log(size)) + (1 | herd), data = cbpp, family = poisson, control = glmerControl(tolPwrss = 1e-12))
p4 <- list(fit = fit_info(m4))
v4 <- suppressWarnings(get_variance(m4)); p4$get_variance <- as.list(unlist(v4))
p4$null_model <- fit_info(suppressWarnings(insight::null_model(m4)))
p4$r2 <- as.list(unlist(suppressWarnings(r2_nakagawa(m4)))); p4$icc <- as.list(unlist(suppressWarnings(icc(m4))))
p4$emmeans_response <- tab(summary(emmeans(m4, ~ period, type = "response")))
p4$emmeans_response_offset <- tab(summary(emmeans(m4, ~ period, type = "response", offset = 0)))
res$cbpp_poisson_offset <- p4

writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE, matrix = "rowmajor"),
           file.path(here, "glmm_postestimation.json"))
cat("done\n")
