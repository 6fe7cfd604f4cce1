// caniemail's data on an email's HTML, through @jsx-email/doiuse-email: prints one JSON
// object {client: {errors: [...], warnings: N}} for the clients the tests hold the email to.
// Usage: node tests/email_support.js FILE.html
"use strict";
const fs = require("fs");
const { DoIUseEmail } = require("@jsx-email/doiuse-email");

// doiuse-email's own list of clients lacks Outlook.com, though caniemail's data (which it
// bundles) has it as outlook.outlook-com; a checker given that name directly reads it.
// A feature caniemail never tested there is reported as a warning, not an error.
class OutlookComCheck extends DoIUseEmail {
  constructor() {
    super({ emailClients: ["outlook.macos"] });
    this.emailClients = ["outlook.outlook-com"];
  }
  checkFeaturesSupport(titles) {
    for (const title of [titles].flat()) {
      try {
        super.checkFeaturesSupport(title);
      } catch (error) {
        if (!/not found on/.test(String(error && error.message))) throw error;
        this.warning(`\`${title}\` was not tested on \`outlook.outlook-com\``);
      }
    }
  }
}

const CLIENTS = [
  "gmail.desktop-webmail", "gmail.android", "gmail.ios",
  "apple-mail.macos", "apple-mail.ios",
  "outlook.macos", "outlook.outlook-com", "outlook.windows",
  "yahoo.desktop-webmail", "yahoo.android", "yahoo.ios",
];

const html = fs.readFileSync(process.argv[2], "utf8");
const report = {};
for (const client of CLIENTS) {
  const checker = client === "outlook.outlook-com"
    ? new OutlookComCheck() : new DoIUseEmail({ emailClients: [client] });
  const result = checker.check(html);
  report[client] = { errors: result.success ? [] : result.errors, warnings: result.warnings.length };
}
process.stdout.write(JSON.stringify(report, null, 1) + "\n");
