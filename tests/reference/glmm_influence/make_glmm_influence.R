## lme4's influence(m, groups = "herd") for glmer fits on cbpp, and the same deletions refitted with
## the inner PIRLS converged and tight optimizers, to show how far lme4's own refits are from the
## optimum (that sets the tolerances of tests/reference/test_glmm_influence.py).
## Run: Rscript make_glmm_influence.R  (writes glmm_influence.json next to this script)
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
here <- tryCatch(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) ".")
tight_ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = c("bobyqa", "bobyqa"),
                           optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
mat <- function(x) unname(as.matrix(x))
one_case <- function(form, family, d) {
  # literal formula and family in the call: influence() re-evaluates it through update()
  m <- eval(bquote(glmer(.(form), data = d, family = .(family))))
  inf <- influence(m, groups = "herd")
  groups <- as.character(inf$deleted)
  # the tight refits of the same deletions, from the full fit's theta and fixef (as influence())
  mt <- glmer(form, data = d, family = family, control = tight_ctrl)
  tfix <- matrix(NA, length(groups), length(fixef(m)), dimnames = list(groups, names(fixef(m))))
  tvc <- numeric(length(groups)); names(tvc) <- groups
  tvcov <- list()
  for (g in groups) {
    f1 <- suppressWarnings(glmer(form, data = d[d$herd != g, ], family = family, control = tight_ctrl,
                                 start = list(theta = getME(m, "theta"), fixef = fixef(m))))
    tfix[g, ] <- fixef(f1)
    tvc[g] <- getME(f1, "theta")[1]^2
    tvcov[[g]] <- mat(vcov(f1))
  }
  # lme4's cooks.distance.influence.merMod and dfbetas formulas on the tight refits
  tdb <- mat(tfix) - rep(fixef(mt), each = nrow(tfix))
  G <- nrow(tdb); p <- ncol(tdb)
  tvinv <- (G - p) / (G * p) * solve(mat(vcov(mt)))
  tcook <- vapply(seq_len(G), function(i) drop(tdb[i, ] %*% tvinv %*% tdb[i, ]), 0)
  tdbs <- t(vapply(seq_len(G), function(i) tdb[i, ] / sqrt(diag(tvcov[[i]])), numeric(p)))
  fe1 <- inf[["fixed.effects[-herd]"]]
  list(
    formula = deparse1(form), family = family$family, link = family$link,
    fixed_effects = as.list(inf$fixed.effects),
    fixed_effects_deleted = list(rows = rownames(fe1), columns = colnames(fe1), values = mat(fe1)),
    var_cov_comps = as.list(inf$var.cov.comps),
    var_cov_comps_deleted = list(columns = colnames(inf[["var.cov.comps[-herd]"]]),
                                 values = mat(inf[["var.cov.comps[-herd]"]])),
    vcov = mat(inf$vcov),
    vcov_deleted = lapply(inf[["vcov[-herd]"]], mat),
    deleted = groups, converged = unname(inf$converged), function_evals = unname(inf$function.evals),
    cooks_distance = unname(cooks.distance(inf)), dfbeta = mat(dfbeta(inf)), dfbetas = mat(dfbetas(inf)),
    tight = list(fixef_full = as.list(fixef(mt)), theta_full = unname(getME(mt, "theta")),
                 vcov = mat(vcov(mt)), vcov_deleted = unname(tvcov), cooks_distance = tcook, dfbetas = tdbs,
                 fixed_effects_deleted = mat(tfix), herd_variance_deleted = unname(tvc),
                 max_abs_fixed_default_minus_tight = max(abs(mat(fe1) - mat(tfix))),
                 max_abs_dfbeta_default_minus_tight = max(abs((mat(fe1) - rep(fixef(m), each = nrow(fe1))) -
                                                             (mat(tfix) - rep(fixef(mt), each = nrow(tfix))))))
  )
}
out <- list(
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  dataset = "cbpp", groups = "herd",
  cbpp_binomial = one_case(cbind(incidence, size - incidence) ~ period + (1 | herd), binomial(), cbpp),
  cbpp_poisson_offset = one_case(incidence ~ period + offset(log(size)) + (1 | herd), poisson(), cbpp)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "glmm_influence.json"))
