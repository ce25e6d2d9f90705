import { api, ApiError, setToken } from "../api";
import { update } from "../store";
import { h } from "./dom";

/** Sign in, or create an account then sign in. The server's reasons are shown as they come. */
export function LoginScreen(): HTMLElement {
  let registering = false;
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, "aria-label": "Email" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, "aria-label": "Password" });
  const name = h("input", { type: "text", name: "display_name", "aria-label": "Display name", placeholder: "Display name (optional)", hidden: true });
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Log in");
  const swap = h("button", { type: "button", class: "link" }, "Create an account");
  swap.addEventListener("click", () => {
    registering = !registering;
    name.hidden = !registering;
    submit.textContent = registering ? "Create account" : "Log in";
    swap.textContent = registering ? "I have an account" : "Create an account";
  });
  const form = h("form", { class: "login", "aria-label": "Log in" },
    h("h1", {}, "Cadenza"), email, password, name, submit, swap, error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      if (registering) await api.register(email.value, password.value, name.value);
      const { access_token, user } = await api.login(email.value, password.value);
      setToken(access_token);
      update({ user });
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.reason : "Cadenza cannot be reached.";
    } finally {
      submit.disabled = false;
    }
  });
  return h("main", { class: "login-screen" }, form);
}
